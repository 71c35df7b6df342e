"""Korean particles after a filled-in placeholder: the catalog writes "이(가)", the text keeps
the form the word takes (final consonant or not), also through flask-babel's gettext."""

from __future__ import annotations

import pytest

from bi_app.i18n import korean_particles


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("매출이(가) 20% 늘었습니다.", "매출이 20% 늘었습니다."),
        ("수수료이(가) 늘었습니다.", "수수료가 늘었습니다."),
        ("주문을(를) 확인하세요.", "주문을 확인하세요."),
        ("고객을(를) 확인하세요.", "고객을 확인하세요."),
        ("이메일을(를) 확인하세요.", "이메일을 확인하세요."),
        ("카테고리을(를) 고르세요.", "카테고리를 고르세요."),
        ("비용은(는) 낮습니다.", "비용은 낮습니다."),
        ("이익률은(는) 낮습니다.", "이익률은 낮습니다."),
        ("서울(으)로 보냅니다.", "서울로 보냅니다."),
        ("본사(으)로 보냅니다.", "본사로 보냅니다."),
        ("지점(으)로 보냅니다.", "지점으로 보냅니다."),
        ("쿠팡과(와) 네이버", "쿠팡과 네이버"),
        ("지마켓과(와) 11번가", "지마켓과 11번가"),
        ("3을(를) 넘었습니다.", "3을 넘었습니다."),
        ("2을(를) 넘었습니다.", "2를 넘었습니다."),
        ("10이(가) 넘습니다.", "10이 넘습니다."),
        ("주간 보고(이)라는 예약", "주간 보고라는 예약"),
        ("월요일(이)라는 예약", "월요일이라는 예약"),
    ],
)
def test_the_particle_follows_the_word(text, expected):
    assert korean_particles(text) == expected


@pytest.mark.parametrize("text", ["Coupang이(가) 늘었습니다.", "5%이(가)", "(기준 5%)", "plain"])
def test_after_a_latin_word_or_a_sign_both_forms_stay(text):
    assert korean_particles(text) == text


def test_translated_messages_choose_the_particle(app_factory, sqlite_url):
    from flask_babel import force_locale

    from bi_app.i18n import _

    app = app_factory(sqlite_url)
    with app.server.test_request_context(), force_locale("ko"):
        text = _(
            "%(category)s takes %(share)s %% of the cost against a benchmark of %(benchmark)s %%.",
            category="광고비",
            share="31",
            benchmark="20",
        )
    assert text == "광고비가 전체 비용의 31%를 차지합니다(기준 20%)."
