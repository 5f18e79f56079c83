#!/usr/bin/python3
# Copyright (C) llmgw authors
#
# Signs Amazon Bedrock runtime requests with botocore's SigV4Auth (Debian's
# python3-botocore, an implementation independent of ours) at a fixed time
# and prints, per request, the inputs and botocore's results; test_sigv4.c
# runs this (popen), signs the same inputs with ngx_http_llmgw_sigv4_sign()
# and compares.  Run with /usr/bin/python3.
#
# Output, one record per request, one "key value" per line:
#
#   case NAME
#   method POST
#   path /model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/invoke
#   query                      (raw, may be empty)
#   region us-east-1
#   service bedrock
#   time 1718927998            (seconds since the epoch)
#   token 0|1                  (1: the session token below was used)
#   header NAME VALUE          (each header signed besides x-amz-*)
#   body HEX                   (the body's bytes in hex)
#   payload-hash HEX           (what botocore put in the canonical request)
#   creq-sha256 HEX            (SHA-256 of botocore's canonical request)
#   uri CANONICAL-URI          (second line of botocore's canonical request)
#   authz AUTHORIZATION
#   end
#
# The credentials are AWS's documented example credentials, also written in
# test_sigv4.c; nothing here is a real key.

import calendar
import datetime
import hashlib
import json
import sys

import botocore.auth
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials


ACCESS_KEY = 'AKIDEXAMPLE'
SECRET_KEY = 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY'
SESSION_TOKEN = ('AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4'
                 'FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTflfKD8YUuwthAx7mSEI/'
                 'qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQD'
                 'YwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38'
                 'xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSY'
                 'vKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA==')

# 2024-06-20T23:59:58Z: close to a date change on purpose
NOW = datetime.datetime(2024, 6, 20, 23, 59, 58)

MODEL = 'anthropic.claude-3-5-sonnet-20240620-v1%3A0'


class FixedDatetime(datetime.datetime):
    @classmethod
    def utcnow(cls):
        return NOW


class FixedDatetimeModule:
    datetime = FixedDatetime


class RecordingSigV4Auth(SigV4Auth):
    """botocore's signer, keeping the canonical request it signed"""

    def canonical_request(self, request):
        self.signed_creq = super().canonical_request(request)
        return self.signed_creq


# botocore.auth calls datetime.datetime.utcnow() when it signs
botocore.auth.datetime = FixedDatetimeModule


INVOKE_BODY = json.dumps({
    'anthropic_version': 'bedrock-2023-05-31',
    'max_tokens': 256,
    'messages': [{'role': 'user', 'content': 'Say "hello", nothing else.'}],
}).encode()

CONVERSE_BODY = json.dumps({
    'messages': [{'role': 'user', 'content': [{'text': 'Hi \u00e9\u4e16'}]}],
    'inferenceConfig': {'maxTokens': 128, 'temperature': 0.5},
}, ensure_ascii=False).encode()


def requests():
    ops = [
        ('invoke', 'application/json', INVOKE_BODY),
        ('converse', 'application/json', CONVERSE_BODY),
        ('converse-stream', 'application/vnd.amazon.eventstream',
         CONVERSE_BODY),
        ('invoke-with-response-stream', 'application/vnd.amazon.eventstream',
         INVOKE_BODY),
    ]

    for region in ('us-east-1', 'eu-central-1'):
        for op, accept, body in ops:
            for token in (False, True):
                name = '%s-%s%s' % (op, region, '-token' if token else '')
                yield (name, region, '/model/%s/%s' % (MODEL, op), '',
                       [('Content-Type', 'application/json'),
                        ('Accept', accept)],
                       body, token)

    # not Bedrock's, but what our query and path rules must agree on
    yield ('query-and-dots', 'us-east-1',
           '/model/./a%2Fb/../%E4%B8%96%3A0/invoke', 'b=2&a=%3A&a=1&c',
           [('Content-Type', 'application/json'),
            ('X-Custom', '  spaced   value  ')],
           b'', False)


def main():
    out = sys.stdout

    for name, region, path, query, headers, body, token in requests():
        host = 'bedrock-runtime.%s.amazonaws.com' % region
        url = 'https://%s%s' % (host, path)
        if query:
            url += '?' + query

        req = AWSRequest(method='POST', url=url, data=body,
                         headers=dict(headers))

        creds = Credentials(ACCESS_KEY, SECRET_KEY,
                            SESSION_TOKEN if token else None)
        auth = RecordingSigV4Auth(creds, 'bedrock', region)
        auth.add_auth(req)

        creq = auth.signed_creq
        creq_lines = creq.split('\n')

        out.write('case %s\n' % name)
        out.write('method POST\n')
        out.write('path %s\n' % path)
        out.write('query %s\n' % query)
        out.write('region %s\n' % region)
        out.write('service bedrock\n')
        out.write('time %d\n' % calendar.timegm(NOW.timetuple()))
        out.write('token %d\n' % (1 if token else 0))
        out.write('header host %s\n' % host)
        for k, v in headers:
            out.write('header %s %s\n' % (k, v))
        out.write('body %s\n' % body.hex())
        out.write('payload-hash %s\n' % creq_lines[-1])
        out.write('creq-sha256 %s\n'
                  % hashlib.sha256(creq.encode('utf-8')).hexdigest())
        out.write('uri %s\n' % creq_lines[1])
        out.write('authz %s\n' % req.headers['Authorization'])
        out.write('end\n')

    return 0


if __name__ == '__main__':
    sys.exit(main())
