"""Authentication-Results (RFC 8601): parsing and the trust decision."""

from __future__ import annotations

from maildesk.mail.authres import authenticated, parse, passes_for, trusted_results

MX = "mx.acme.example"
FULL = (f"{MX}; dkim=pass (2048-bit key; secure) header.d=example.com header.i=@example.com "
        "header.s=s1 header.b=\"AbC1\"; spf=pass (domain of ana@example.com designates "
        "192.0.2.7 as permitted sender) smtp.mailfrom=ana@example.com; dmarc=pass "
        "header.from=example.com")


def test_parse_methods_and_properties() -> None:
    results = parse(FULL)
    assert results is not None and results.authserv_id == MX
    assert [(r.method, r.result) for r in results.results] == [
        ("dkim", "pass"), ("spf", "pass"), ("dmarc", "pass")]
    assert results.results[0].prop("header.d") == "example.com"
    assert results.results[1].prop("smtp.mailfrom") == "ana@example.com"


def test_parse_none_and_version() -> None:
    results = parse("mx.acme.example 1; none")
    assert results is not None and results.results == ()
    assert parse("") is None


def test_dkim_pass_for_domain_only() -> None:
    results = parse(f"{MX}; dkim=pass header.d=example.com")
    assert results is not None
    assert passes_for(results, "example.com") and not passes_for(results, "other.example")


def test_dkim_header_i() -> None:
    results = parse(f"{MX}; dkim=pass header.i=ana@example.com")
    assert results is not None and passes_for(results, "EXAMPLE.com")


def test_spf_pass_and_fail() -> None:
    ok = parse(f"{MX}; spf=pass smtp.mailfrom=example.com")
    bad = parse(f"{MX}; spf=softfail smtp.mailfrom=ana@example.com; dkim=fail header.d=example.com")
    assert ok is not None and passes_for(ok, "example.com")
    assert bad is not None and not passes_for(bad, "example.com")


def test_only_topmost_trusted_header_counts() -> None:
    forged_below = [f"{MX}; dkim=fail header.d=example.com", FULL]
    assert not authenticated(forged_below, [MX], "example.com")
    other_id_on_top = ["evil.example; dkim=pass header.d=example.com", FULL]
    assert authenticated(other_id_on_top, [MX], "example.com")
    assert not authenticated(["evil.example; dkim=pass header.d=example.com"], [MX],
                             "example.com")
    assert trusted_results([], [MX]) is None


def test_comments_do_not_confuse() -> None:
    value = f"{MX} (MX (nested) comment); dkim=pass (good sig) header.d=(x)example.com"
    results = parse(value)
    assert results is not None and passes_for(results, "example.com")


def test_quoted_semicolon_is_not_a_verdict() -> None:
    value = f'{MX}; dkim=fail reason="x; dkim=pass header.d=example.com" header.d=evil.example'
    results = parse(value)
    assert results is not None
    assert [(r.method, r.result) for r in results.results] == [("dkim", "fail")]
    assert not authenticated([value], [MX], "example.com")


def test_quoted_comment_delimiters_are_not_comments() -> None:
    value = f'{MX}; spf=fail reason="(x); spf=pass smtp.mailfrom=example.com"'
    assert not authenticated([value], [MX], "example.com")


def test_dmarc_pass_aligned_with_from_domain() -> None:
    value = f"{MX}; dmarc=pass header.from=example.com"
    assert authenticated([value], [MX], "example.com")
    assert not authenticated([value], [MX], "other.example")


def test_unreadable_header_counts_for_nothing() -> None:
    unclosed = f'{MX}; dkim=pass header.d="example.com'
    assert not authenticated([unclosed], [MX], "example.com")
    assert parse('garbage ;;; "') is None
    assert authenticated(['garbage ;;; "', f"{MX}; dkim=pass header.d=example.com"],
                         [MX], "example.com")
