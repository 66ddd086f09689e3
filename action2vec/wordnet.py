"""WordNet 3.0 without nltk's downloader: nltk's own corpus when present, else Debian's
``wordnet-base`` files (/usr/share/wordnet) copied, with the ``lexnames`` file Debian lacks,
into the environment's nltk_data directory (NLTK reads corpora only from its data path).
"""

import shutil
import sys
import warnings
from importlib import resources
from pathlib import Path

from action2vec import Action2VecError

DEBIAN_WORDNET = Path("/usr/share/wordnet")
DATABASE_FILES = ("data.noun", "data.verb", "index.noun", "index.verb")
HOW_TO_INSTALL = ("WordNet is not available. Install Debian's package (`apt-get install "
                  "wordnet-base`, which `make run` does when it can), or with internet access "
                  "run `python -m nltk.downloader wordnet`.")


def install_debian_copy(source=DEBIAN_WORDNET, target=None):
    """Copy Debian's WordNet into ``<sys.prefix>/nltk_data/corpora/wordnet``; return the path."""
    if not all((source / name).is_file() for name in DATABASE_FILES):
        raise Action2VecError(HOW_TO_INSTALL)
    target = Path(target or Path(sys.prefix) / "nltk_data" / "corpora" / "wordnet")
    target.mkdir(parents=True, exist_ok=True)
    for path in source.iterdir():
        if path.is_file():
            shutil.copyfile(path, target / path.name)
    lexnames = resources.files("action2vec") / "resources" / "lexnames"
    (target / "lexnames").write_text(lexnames.read_text())
    return target


def reader_class():
    """NLTK's reader, minus its mapping to another WordNet version (it wants index.sense,
    which Debian ships separately); this database is WordNet 3.0 itself."""
    from nltk.corpus.reader.wordnet import WordNetCorpusReader

    class WordNet30(WordNetCorpusReader):
        def map_wn(self, version="wordnet"):
            return None

    return WordNet30


def load():
    """The WordNet corpus reader, installing Debian's copy on first use if nltk has none."""
    import nltk

    try:
        root = nltk.data.find("corpora/wordnet")
    except LookupError:
        install_debian_copy()
        root = nltk.data.find("corpora/wordnet")
    with warnings.catch_warnings():  # NLTK warns that multilingual data (OMW) is absent
        warnings.simplefilter("ignore")
        return reader_class()(root, None)


def verb_synsets(wordnet, word):
    """The verb synsets of a word (empty when WordNet has it only as another part of speech)."""
    return wordnet.synsets(word, pos="v")
