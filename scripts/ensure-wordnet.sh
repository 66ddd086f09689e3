#!/bin/sh
# WordNet 3.0 for the evaluation, without nltk's downloader: Debian's wordnet-base package.
# Installs it when missing and this machine can (root with apt); otherwise says how.
if [ -f /usr/share/wordnet/data.verb ]; then
    exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "== installing WordNet (Debian package wordnet-base)"
    (apt-get install -y -qq wordnet-base >/dev/null 2>&1 \
        || (apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq wordnet-base >/dev/null 2>&1)) \
        && exit 0
fi
echo "WARNING: WordNet is missing and could not be installed here. Install it with"
echo "  sudo apt-get install wordnet-base        (Debian/Ubuntu), or, with internet access,"
echo "  .venv/bin/python -m nltk.downloader wordnet"
echo "The WordNet checks and evaluations need it."
