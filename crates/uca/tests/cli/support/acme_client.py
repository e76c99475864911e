#!/usr/bin/python3
"""An independent ACME client on the wire (python3-acme, as certbot uses it) for what the
command-line clients will not do.

usage:
  acme_client.py download DIRECTORY_URL CA_FILE ACCOUNT_KEY_PEM ACCOUNT_URL ORDER_URL
      POST-as-GET (RFC 8555 §6.3) of an order and of its certificate, signed with an existing
      account key. Prints the order's JSON on the first line, the certificate's Content-Type
      on the second, then the certificate chain (PEM) as served.
  acme_client.py register DIRECTORY_URL CA_FILE [SOURCE_ADDRESS]
      newAccount with a fresh P-256 key and no external account binding, whatever the
      directory's meta says, connecting from SOURCE_ADDRESS if given (e.g. 127.0.0.2, for rate
      limits per address). Prints the account URL, or the problem document's JSON on the first
      line and exits 3.
  acme_client.py replicas DIRECTORY_URL CA_FILE OTHER_DIRECTORY_URL
      Two servers that should be one (replicas over one database): a nonce from the first is
      spent on a newAccount at the other, then sent again (without python3-acme's retry) to the
      first. Prints {"spent_elsewhere": account URL or problem, "replayed": problem type or
      "accepted"} as JSON.
"""

import json
import sys

import josepy as jose
from acme import client, errors, messages
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from requests.adapters import HTTPAdapter


def network(key, ca_file, account=None):
    if isinstance(key, ec.EllipticCurvePrivateKey):
        jwk = jose.JWKEC(key=key)
        alg = {256: jose.ES256, 384: jose.ES384, 521: jose.ES512}[key.curve.key_size]
    else:
        jwk = jose.JWKRSA(key=key)
        alg = jose.RS256
    return client.ClientNetwork(jwk, account=account, alg=alg, verify_ssl=ca_file,
                                user_agent="uca-tests")


def download(directory_url, ca_file, key_file, account_url, order_url):
    with open(key_file, "rb") as f:
        key = serialization.load_pem_private_key(f.read(), password=None)
    account = messages.RegistrationResource(uri=account_url, body=messages.Registration())
    net = network(key, ca_file, account)
    acme = client.ClientV2(client.ClientV2.get_directory(directory_url, net), net)
    order = acme._post_as_get(order_url).json()
    print(json.dumps(order))
    chain = acme._post_as_get(order["certificate"])
    print(chain.headers.get("Content-Type", ""))
    print(chain.text, end="")


class SourceAdapter(HTTPAdapter):
    """Connections from one local address."""

    def __init__(self, source):
        self.source = source
        super().__init__()

    def init_poolmanager(self, *args, **kwargs):
        kwargs["source_address"] = (self.source, 0)
        return super().init_poolmanager(*args, **kwargs)


def register(directory_url, ca_file, source=None):
    net = network(ec.generate_private_key(ec.SECP256R1()), ca_file)
    if source:
        net.session.mount("https://", SourceAdapter(source))
    acme = client.ClientV2(client.ClientV2.get_directory(directory_url, net), net)
    try:
        account = acme.new_account(messages.NewRegistration.from_data(
            email="a@example.test", terms_of_service_agreed=True))
    except errors.Error as e:
        print(json.dumps(e.to_partial_json() if isinstance(e, messages.Error) else str(e)))
        sys.exit(3)
    print(account.uri)


def replicas(directory_url, ca_file, other_url):
    net = network(ec.generate_private_key(ec.SECP256R1()), ca_file)
    here = client.ClientV2(client.ClientV2.get_directory(directory_url, net), net)
    there = client.ClientV2(client.ClientV2.get_directory(other_url, net), net)
    nonce = jose.b64decode(net.head(here.directory["newNonce"]).headers["Replay-Nonce"])
    net._nonces.clear()
    net._nonces.add(nonce)
    reg = messages.NewRegistration.from_data(email="a@example.test", terms_of_service_agreed=True)
    out = {}
    try:
        # _post_once: no second try with a fresh nonce on badNonce.
        resp = net._post_once(there.directory["newAccount"], reg)
        out["spent_elsewhere"] = resp.headers.get("Location", "")
    except messages.Error as e:
        out["spent_elsewhere"] = e.to_partial_json()
    net._nonces.clear()
    net._nonces.add(nonce)
    try:
        net._post_once(here.directory["newAccount"], reg)
        out["replayed"] = "accepted"
    except messages.Error as e:
        out["replayed"] = e.typ
    print(json.dumps(out))


if __name__ == "__main__":
    {"download": download, "register": register, "replicas": replicas}[sys.argv[1]](*sys.argv[2:])
