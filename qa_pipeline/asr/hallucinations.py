"""Known Whisper hallucinations on silence/noise (learned from subtitle-credit lines in its training data).

Regexes matched against normalized text (Simplified, no punctuation/spaces, lower case). Only phrases a
call-centre agent or customer would never say: a plain "谢谢" is real speech and must not be here.
"""

PATTERNS: tuple[str, ...] = (
    r"请不吝点赞",
    r"点赞订阅转发",
    r"打赏支持明镜",
    r"明镜与点点栏目",
    r"点点栏目",
    r"订阅我的频道",
    r"欢迎订阅",
    r"记得订阅",
    r"谢谢观看",
    r"感谢观看",
    r"谢谢收看",
    r"感谢收看",
    r"谢谢大家观看",
    r"下期再见",
    r"字幕由.{0,20}提供",
    r"字幕提供",
    r"字幕制作",
    r"字幕志愿者",
    r"字幕by",
    r"中文字幕",
    r"简体中文字幕",
    r"本字幕",
    r"amaraorg",
    r"优优独播剧场",
    r"yoyotelevisionseriesexclusive",
    r"由.{0,12}社区提供的字幕",
    r"詞曲|词曲",
    r"作词.{0,10}作曲",
)
