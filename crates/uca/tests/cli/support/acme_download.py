#!/usr/bin/python3
"""POST-as-GET (RFC 8555 §6.3) of an order and of its certificate, signed with an existing
account key, as an independent ACME client (python3-acme) would do it.

usage: acme_download.py DIRECTORY_URL CA_FILE ACCOUNT_KEY_PEM ACCOUNT_URL ORDER_URL

Prints the order's JSON on the first line, the certificate's Content-Type on the second, then
the certificate chain (PEM) as served.
"""

import json
import sys

import josepy as jose
from acme import client, messages
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec


def main():
    directory_url, ca_file, key_file, account_url, order_url = sys.argv[1:6]
    with open(key_file, "rb") as f:
        key = serialization.load_pem_private_key(f.read(), password=None)
    if isinstance(key, ec.EllipticCurvePrivateKey):
        jwk = jose.JWKEC(key=key)
        alg = {256: jose.ES256, 384: jose.ES384, 521: jose.ES512}[key.curve.key_size]
    else:
        jwk = jose.JWKRSA(key=key)
        alg = jose.RS256
    account = messages.RegistrationResource(uri=account_url, body=messages.Registration())
    net = client.ClientNetwork(jwk, account=account, alg=alg, verify_ssl=ca_file,
                               user_agent="uca-tests")
    directory = client.ClientV2.get_directory(directory_url, net)
    acme = client.ClientV2(directory, net)
    order = acme._post_as_get(order_url).json()
    print(json.dumps(order))
    chain = acme._post_as_get(order["certificate"])
    print(chain.headers.get("Content-Type", ""))
    print(chain.text, end="")


if __name__ == "__main__":
    main()
