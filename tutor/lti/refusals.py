"""Why a launch was refused, said in Vietnamese and English on a page the learner sees inside the LMS's frame.

>>> Refused("expired").status
403
>>> "hết hạn" in refusal_page(Refused("expired"))
True
"""

from __future__ import annotations

from html import escape

from tutor.errors import Forbidden

REASONS: dict[str, tuple[int, str, str]] = {
    "missing": (400, "Yêu cầu từ hệ thống học tập thiếu thông tin cần thiết.", "The request from the learning system lacks a required field."),
    "unknown_platform": (403, "Hệ thống học tập này chưa được đăng ký với trợ giảng.", "This learning system is not registered with the tutor."),
    "unknown_deployment": (403, "Khoá học này chưa được đăng ký (deployment chưa biết).", "This course's deployment is not registered with the tutor."),
    "missing_state": (403, "Phiên đăng nhập đã hết hạn hoặc trình duyệt đã chặn cookie. Hãy mở lại bài học từ hệ thống học tập.",
                      "The sign-in expired or the browser blocked its cookie. Open the lesson again from the learning system."),
    "bad_state": (403, "Phiên đăng nhập không khớp. Hãy mở lại bài học từ hệ thống học tập.",
                  "The sign-in does not match this launch. Open the lesson again from the learning system."),
    "unreadable_form": (400, "Biểu mẫu gửi đến không đọc được.", "The form sent here cannot be read."),
    "malformed": (403, "Thẻ đăng nhập không đọc được.", "The sign-in token cannot be read."),
    "forged": (403, "Chữ ký của thẻ đăng nhập không hợp lệ.", "The sign-in token's signature is not valid."),
    "keys_unavailable": (403, "Không lấy được khoá của hệ thống học tập để kiểm tra chữ ký; hãy thử lại sau.",
                         "The learning system's keys could not be fetched to check the signature; try again later."),
    "wrong_audience": (403, "Thẻ đăng nhập được cấp cho một công cụ khác.", "The sign-in token was issued for another tool."),
    "wrong_issuer": (403, "Thẻ đăng nhập đến từ một hệ thống khác với hệ thống đã bắt đầu đăng nhập.",
                     "The sign-in token comes from another system than the one that started the sign-in."),
    "expired": (403, "Thẻ đăng nhập đã hết hạn hoặc chưa có hiệu lực. Hãy mở lại bài học.", "The sign-in token has expired or is not valid yet. Open the lesson again."),
    "replayed": (403, "Thẻ đăng nhập này đã được dùng. Hãy mở lại bài học từ hệ thống học tập.",
                 "This sign-in token was already used. Open the lesson again from the learning system."),
    "wrong_message": (403, "Loại yêu cầu LTI này không được hỗ trợ (cần LtiResourceLinkRequest, phiên bản 1.3.0).",
                      "This kind of LTI request is not supported (LtiResourceLinkRequest, version 1.3.0, is)."),
    "bad_user": (403, "Thẻ đăng nhập không có mã người học dùng được.", "The sign-in token carries no usable learner id."),
}


class Refused(Forbidden):
    """A login or launch refused: `reason` names an entry of REASONS; `detail` adds what exactly (never learner data)."""

    def __init__(self, reason: str, detail: str = "") -> None:
        self.reason, self.detail = reason, detail
        self.status, self.vi, self.en = REASONS[reason]
        super().__init__(f"{self.en} {detail}".strip())


def refusal_page(refused: Refused) -> str:
    """A self-contained page (no script, no outside files) saying why, in both languages."""
    detail = f"<p><small>{escape(refused.detail)}</small></p>" if refused.detail else ""
    return (
        "<!doctype html><html lang=\"vi\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\">"
        "<title>Không vào được / Cannot sign in</title>"
        "<style>body{font-family:system-ui,sans-serif;max-width:40em;margin:2em auto;padding:0 1em;line-height:1.5}"
        "h1{font-size:1.3em}.en{color:#444}</style></head><body>"
        f"<h1>Không vào được trợ giảng</h1><p>{escape(refused.vi)}</p>"
        f"<h1 class=\"en\" lang=\"en\">Cannot sign in to the tutor</h1><p class=\"en\" lang=\"en\">{escape(refused.en)}</p>"
        f"{detail}<p><small>({escape(refused.reason)}, {refused.status})</small></p></body></html>"
    )
