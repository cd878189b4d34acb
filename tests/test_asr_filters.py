from qa_pipeline.asr.filters import is_hallucination, is_stutter_loop
from qa_pipeline.text import to_simplified


def test_stutter_loops_are_dropped_but_real_repeats_kept() -> None:
    assert is_stutter_loop("你认认认认认认")
    assert is_stutter_loop("啊认认认认认认认认认认认")
    for real in ("对对对对", "嗯嗯嗯嗯", "您好，很高兴为您服务", "哈哈哈哈哈，好的"):
        assert not is_stutter_loop(real)


def test_known_silence_hallucinations() -> None:
    assert is_hallucination("请不吝点赞 订阅 转发 打赏支持明镜与点点栏目")
    assert is_hallucination("謝謝觀看")
    assert not is_hallucination("谢谢，再见")


def test_traditional_to_simplified() -> None:
    assert to_simplified("請您稍等，我幫您查詢一下") == "请您稍等，我帮您查询一下"
