"""Dockerfile scanning: a parser adapter over BuildKit's parser (`dockerfile` package) that adds
stages, ARG/ENV substitution and suppression comments, plus the checks that run on the result.

`parse.py` imports the `dockerfile` package only when a file is parsed: it embeds the Go
runtime, which does not survive fork(), and `kubeward config` forks its workers before that.
"""
