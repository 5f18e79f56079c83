#!/usr/bin/python3
# Copyright (C) llmgw authors
#
# bench/requests.py PORT PATH TOKENS N: N GET requests on one keep-alive
# connection to 127.0.0.1:PORT, each carrying the next token of the file
# TOKENS as a Bearer token; a line "TOKEN<tab>PROOF" is sent as
# Authorization: DPoP TOKEN with the header DPoP: PROOF.  Used by
# bench/instructions.sh, where the server runs under callgrind and the
# request count must be exact.

import http.client
import sys


def main():
    port, path, tokens_file, count = sys.argv[1:5]

    with open(tokens_file) as f:
        tokens = [line.strip() for line in f if line.strip()]

    conn = http.client.HTTPConnection("127.0.0.1", int(port), timeout=60)

    for i in range(int(count)):
        token, _, proof = tokens[i % len(tokens)].partition("\t")
        if proof:
            headers = {"Authorization": "DPoP " + token, "DPoP": proof}
        else:
            headers = {"Authorization": "Bearer " + token}
        conn.request("GET", path, headers=headers)
        resp = conn.getresponse()
        resp.read()

        if resp.status != 200:
            sys.exit("bench: %s answered %d" % (path, resp.status))


if __name__ == "__main__":
    main()
