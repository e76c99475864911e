//! The generator's own http-01 responder: one small HTTP/1.1 server answering
//! `GET /.well-known/acme-challenge/TOKEN` from a map that the workers fill before they tell the
//! ACME server a challenge is ready, and empty once the order is ready.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

const PREFIX: &str = "/.well-known/acme-challenge/";

/// Token -> key authorization, shared by the workers and the server.
#[derive(Clone, Default)]
pub(crate) struct Answers {
    map: Arc<Mutex<HashMap<String, String>>>,
    served: Arc<AtomicU64>,
    missed: Arc<AtomicU64>,
}

impl Answers {
    pub(crate) fn insert(&self, token: String, key_authorization: String) {
        self.map
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(token, key_authorization);
    }

    pub(crate) fn remove(&self, token: &str) {
        self.map
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(token);
    }

    fn get(&self, token: &str) -> Option<String> {
        self.map
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(token)
            .cloned()
    }

    /// Challenge answers served, and challenge requests for a token not (or no longer) known.
    pub(crate) fn counts(&self) -> (u64, u64) {
        (
            self.served.load(Ordering::Relaxed),
            self.missed.load(Ordering::Relaxed),
        )
    }
}

/// The tokens one order published; removed from the map when dropped (also on an error path).
pub(crate) struct Published<'a> {
    answers: &'a Answers,
    tokens: Vec<String>,
}

impl<'a> Published<'a> {
    pub(crate) fn new(answers: &'a Answers) -> Self {
        Self {
            answers,
            tokens: Vec::new(),
        }
    }

    pub(crate) fn add(&mut self, token: String, key_authorization: String) {
        self.answers.insert(token.clone(), key_authorization);
        self.tokens.push(token);
    }
}

impl Drop for Published<'_> {
    fn drop(&mut self) {
        for t in &self.tokens {
            self.answers.remove(t);
        }
    }
}

/// Accepts connections until the task is aborted.
pub(crate) async fn serve(listener: TcpListener, answers: Answers) {
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(_) => {
                // EMFILE and the like: back off instead of spinning.
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let answers = answers.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req: Request<Incoming>| {
                let resp = respond(&answers, &req);
                async move { Ok::<_, Infallible>(resp) }
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

fn respond(answers: &Answers, req: &Request<Incoming>) -> Response<Full<Bytes>> {
    let found = match (req.method(), req.uri().path().strip_prefix(PREFIX)) {
        (&Method::GET | &Method::HEAD, Some(token)) if !token.is_empty() => {
            let answer = answers.get(token);
            let counter = if answer.is_some() {
                &answers.served
            } else {
                &answers.missed
            };
            counter.fetch_add(1, Ordering::Relaxed);
            answer
        }
        _ => None,
    };
    let (status, body) = match found {
        Some(key_authorization) => (StatusCode::OK, key_authorization),
        None => (StatusCode::NOT_FOUND, String::new()),
    };
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/octet-stream"),
    );
    resp
}
