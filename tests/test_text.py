from qa_pipeline.text import (
    char_count,
    fuzzy_syllable,
    normalize,
    normalize_with_map,
    pinyin_key,
    pinyin_similarity,
    syllables,
    tokens,
)


def test_normalize_traditional_fullwidth_punct_case():
    assert normalize("您好，請稍等！專家臺席") == "您好请稍等专家台席"
    assert normalize("ＡＢＣ　１２３，Hello World") == "abc123helloworld"
    assert normalize("对_全国 流量？") == "对全国流量"
    assert normalize("") == ""


def test_index_map_points_into_original():
    text = "嗯，我不知道。"
    norm, imap = normalize_with_map(text)
    assert norm == "嗯我不知道"
    i = norm.index("我不知道")
    assert text[imap[i] : imap[i + 3] + 1] == "我不知道"


def test_syllables_one_per_char():
    norm = normalize("您好abc12行长")
    syl = syllables(norm)
    assert len(syl) == len(norm)
    assert syl[:2] == ["nin", "hao"] and syl[2:7] == list("abc12")


def test_fuzzy_initials_and_finals():
    assert fuzzy_syllable("zhang") == fuzzy_syllable("zan")
    assert fuzzy_syllable("shi") == fuzzy_syllable("si")
    assert fuzzy_syllable("chi") == fuzzy_syllable("ci")
    assert fuzzy_syllable("nan") == fuzzy_syllable("lang")
    assert fuzzy_syllable("qing") == fuzzy_syllable("qin")
    assert fuzzy_syllable("deng") == fuzzy_syllable("den")
    assert fuzzy_syllable("ni") != fuzzy_syllable("nin")


def test_homophone_keys():
    assert pinyin_key("稍等") == pinyin_key("少等")
    assert pinyin_key("久等") == pinyin_key("酒等")
    assert pinyin_key("专家台席") == pinyin_key("专家台息")
    assert pinyin_key("不清楚") == pinyin_key("不清处")
    assert pinyin_similarity("您的宽带账号是多少", "你的宽带帐号是多少") > 0.9
    assert pinyin_similarity("您的宽带账号是多少", "今天天气怎么样") < 0.5


def test_tokens():
    assert "高兴" in tokens("您好，很高兴为您服务")


def test_char_count():
    assert char_count("您好，很高兴为您服务！") == 9
    assert char_count("我的套餐是5G plan 128元") == 5 + 1 + 1 + 1 + 1  # 我的套餐是 + 5g + plan + 128 + 元
    assert char_count("，。？  ") == 0
    assert char_count("ＯＫ好的") == 3


def test_jieba_dictionary_read_in_one_go_is_the_same_dictionary(tmp_path):
    """`jieba_module` lets jieba read its dictionary cache with one read (`_WholeFileMarshal`): the objects are
    those `marshal.load` makes from the same file, and jieba's dictionary is the one in its cache file."""
    import marshal
    import os
    import tempfile

    from qa_pipeline.text import _WholeFileMarshal, jieba_module

    data = ({"我们": 3, "不归": 0, "管": 7, "é\n'": 1}, 11)
    f = tmp_path / "c.marshal"
    with open(f, "wb") as fh:
        _WholeFileMarshal.dump(data, fh)
    with open(f, "rb") as a, open(f, "rb") as b:
        assert _WholeFileMarshal.load(a) == marshal.load(b) == data
    jieba = jieba_module()
    assert jieba.marshal is _WholeFileMarshal
    cache = os.path.join(jieba.dt.tmp_dir or tempfile.gettempdir(), jieba.dt.cache_file or "jieba.cache")
    with open(cache, "rb") as fh:
        freq, total = marshal.load(fh)
    assert jieba.dt.FREQ == freq and jieba.dt.total == total
    assert jieba.lcut("这不归我们管") == ["这不归", "我们", "管"]
