#!/usr/bin/python3
# Copyright (C) llmgw authors
#
# bench/sse-file.py FILE MIB: an Azure OpenAI chat completion stream of
# MIB MiB (chat.completion.chunk events of ~240 bytes, then the usage
# chunk that include_usage asks for, then [DONE]), for the bench's
# memory row: the upstream nginx serves it as text/event-stream and the
# gateway's usage parser reads every event of it.  Written to FILE.tmp
# and renamed, so an interrupted run leaves no short file behind.

import json
import os
import sys


def main():
    path, mib = sys.argv[1], int(sys.argv[2])
    size = mib * 1024 * 1024
    n = 0

    with open(path + '.tmp', 'wb') as f:
        written = 0
        while written < size:
            ev = {'id': 'chatcmpl-bench', 'object': 'chat.completion.chunk',
                  'created': 1764000000, 'model': 'gpt-4o',
                  'choices': [{'index': 0, 'finish_reason': None,
                               'delta': {'content': ' token%07d' % n
                                         + ' lorem ipsum dolor sit amet'}}]}
            line = b'data: ' + json.dumps(ev).encode() + b'\n\n'
            f.write(line)
            written += len(line)
            n += 1

        usage = {'id': 'chatcmpl-bench', 'object': 'chat.completion.chunk',
                 'created': 1764000000, 'model': 'gpt-4o', 'choices': [],
                 'usage': {'prompt_tokens': 7, 'completion_tokens': n,
                           'total_tokens': 7 + n}}
        f.write(b'data: ' + json.dumps(usage).encode() + b'\n\n')
        f.write(b'data: [DONE]\n\n')

    os.rename(path + '.tmp', path)
    print(n)


if __name__ == '__main__':
    main()
