"""Vietnamese-aware text normalisation: one spelling per word, however the learner typed it.

Three things differ between two spellings of the same Vietnamese word:

* Unicode form: "ệ" can be one code point (NFC) or "e" + two combining marks (NFD, typed on
  some Mac and older Windows keyboards). Everything here starts with NFC.
* Tone-mark placement: "hoà"/"hòa", "thuỷ"/"thủy", "khoẻ"/"khỏe" are the same word written in the
  "new" and "old" styles. :func:`normalise` moves the tone mark of every syllable to one canonical
  place (the old style: "hòa", "thủy", "khỏe"), so both spellings give the same token.
* Diacritics at all: on a phone many people type "lam sao biet tin nhan lua dao". :func:`fold`
  removes every diacritic and maps đ/Đ to d/D; the index keeps a folded copy of every token so a
  question typed without diacritics still finds passages written with them.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

# The five Vietnamese tone marks as combining characters (huyền, sắc, ngã, hỏi, nặng).
TONE_MARKS = frozenset("\u0300\u0301\u0303\u0309\u0323")
_VOWELS = frozenset("aăâeêioôơuưy")
_SHAPED_VOWELS = frozenset("ăâêôơư")  # vowels that carry their own (non-tone) diacritic
_WORD = re.compile(r"\w+", re.UNICODE)
# Letters found in Vietnamese but in neither English nor the usual Western European alphabets.
_VI_ONLY = frozenset("ăâđêôơưĂÂĐÊÔƠƯ")


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def _tone_position(base: str) -> int | None:
    """Index (in the toneless syllable ``base``) of the vowel that carries the tone, or None."""
    s = base.lower()
    if len(s) != len(base):
        return None
    i = next((k for k, c in enumerate(s) if c in _VOWELS), None)
    if i is None:
        return None
    j = i
    while j < len(s) and s[j] in _VOWELS:
        j += 1
    # "qu" and "gi" + vowel: the u / i belongs to the initial consonant (quý, giữ).
    if j - i > 1 and i > 0 and ((s[i - 1] == "q" and s[i] == "u") or (s[i - 1] == "g" and s[i] == "i")):
        i += 1
    cluster = s[i:j]
    if len(cluster) == 1:
        return i
    shaped = [k for k in range(i, j) if s[k] in _SHAPED_VOWELS]
    if shaped:  # ươ -> ơ, iê -> ê, uô -> ô, ưa -> ư
        return shaped[-1]
    if j < len(s):  # closed syllable: hoàn, toán, huỳnh
        return j - 1
    if cluster in ("oa", "oe", "uy"):  # canonical = old style: hòa, khỏe, thủy
        return i
    if len(cluster) == 3:  # oai, oay, uya
        return i + 1
    return i  # ai, ao, au, ay, eo, ia, iu, oi, ua, ui


@lru_cache(maxsize=200_000)
def _retone_word(word: str) -> str:
    decomposed = unicodedata.normalize("NFD", word)
    tones = [c for c in decomposed if c in TONE_MARKS]
    if len(tones) != 1:
        return word
    base = nfc("".join(c for c in decomposed if c not in TONE_MARKS))
    pos = _tone_position(base)
    if pos is None:
        return word
    return nfc(base[: pos + 1] + tones[0] + base[pos + 1 :])


def normalise(text: str) -> str:
    """NFC, and every Vietnamese syllable's tone mark on its canonical vowel. Keeps case and punctuation."""
    text = nfc(text)
    return _WORD.sub(lambda m: _retone_word(m.group(0)), text)


def fold(text: str) -> str:
    """Remove every diacritic (tone marks and letter shapes) and map đ/Đ to d/D: "Điện thoại" -> "Dien thoai"."""
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    return nfc("".join(c for c in decomposed if not unicodedata.combining(c)))


def words(text: str) -> list[str]:
    """Lower-cased, normalised word tokens (Vietnamese: syllables)."""
    return _WORD.findall(normalise(text).lower())


def has_diacritics(text: str) -> bool:
    """True when the text has any letter with a diacritic (or đ)."""
    return fold(text) != nfc(text)


def looks_vietnamese_with_diacritics(text: str) -> bool:
    """True when the text has a Vietnamese tone mark on a vowel or a letter only Vietnamese uses."""
    text = nfc(text)
    if any(c in _VI_ONLY for c in text):
        return True
    decomposed = unicodedata.normalize("NFD", text)
    # The hook above and the dot below are used by Vietnamese alone among the Latin alphabets here.
    return any(c in "\u0309\u0323" for c in decomposed)


# Frequent Vietnamese syllables (folded) that are not English words; used to tell a question typed
# without diacritics ("lam sao doi mat khau") from an English one.
VI_COMMON_FOLDED = frozenset(
    """
    lam sao nao khong ko hok toi minh ban cua cach duoc dc nhu the thi voi nhung cac mot nay do kia
    gi vay roi chua nen phai muon can biet xem dung tren trong ngoai sau truoc khi neu hay hoac va
    bi bao nhieu tai vi dau dien thoai mang tin nhan gui goi mat khau tai khoan nguoi nha con ong ba
    chi anh em co chau lai ra vao len xuong mo tat cai dat ung duoc cho tu den bang qua lua dao
    tien ngan hang the hien ho so giay to dich vu cong trang web tim kiem hinh anh video tre thoi
    gian ngay gio nam thang duong link ma so dang ky nhap ky xac thuc bao mat an toan viet tai lieu
    """.split()
)
