//! JOSE as ACME uses it (RFC 8555 §6.2, RFC 7515, 7517, 7638): flattened JWS, public JWKs,
//! thumbprints, and the HMAC of external account binding.
