import pytest

from action2vec import Action2VecError, wordnet
from action2vec.render import CLASSES


@pytest.fixture(scope="module")
def wn():
    return wordnet.load()


def test_wordnet_reads_verbs_and_similarities(wn):
    assert wn.synset("throw.v.01").wup_similarity(wn.synset("toss.v.01")) > \
        wn.synset("throw.v.01").wup_similarity(wn.synset("sleep.v.01"))


def test_every_rendered_verb_is_a_wordnet_verb(wn):
    verbs = sorted({name.split()[0] for name in CLASSES})
    assert len(verbs) >= 10
    assert [v for v in verbs if not wordnet.verb_synsets(wn, v)] == []


def test_debian_copy_gets_a_lexnames_file(tmp_path):
    target = wordnet.install_debian_copy(target=tmp_path / "wordnet")
    assert len((target / "lexnames").read_text().splitlines()) == 45
    assert (target / "data.verb").is_file()


def test_missing_database_says_how_to_install(tmp_path):
    with pytest.raises(Action2VecError, match="apt-get install wordnet-base"):
        wordnet.install_debian_copy(source=tmp_path)
