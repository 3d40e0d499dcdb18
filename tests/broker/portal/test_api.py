"""Every endpoint of ``/api/v1`` over real HTTP, on real demo alerts taken by the real stream.

The portal serves alerts its ingest read from a secured Kafka (``world``).
Expectations come from the enriched topic decoded with fastavro and from
astropy (cone search), not from the portal's code.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import numpy as np
import pytest
from astropy import units as u
from astropy.coordinates import SkyCoord

from broker.kafka.consume import decode_output, read_topic
from broker.kafka.topics import ensure_topics, list_topics, topic_counts
from tests.broker.portal.conftest import World, scores_of

pytestmark = pytest.mark.integration


def bearer(world: World, user: str) -> httpx.Client:
    """An API client with a new token of ``user``."""
    token = world.portal.accounts.new_token(user, "tests")
    return httpx.Client(
        base_url=world.url, headers={"Authorization": f"Bearer {token}"}, timeout=120
    )


def logged_in(world: World, user: str) -> tuple[httpx.Client, str]:
    """A browser-like client logged in through the login form, and its CSRF token."""
    client = httpx.Client(base_url=world.url, timeout=120)
    form = client.get("/login").text
    login_csrf = re.search(r'name="login_csrf" value="([^"]+)"', form)[1]  # type: ignore[index]
    done = client.post(
        "/login",
        data={
            "username": user,
            "password": world.passwords[user],
            "login_csrf": login_csrf,
            "next": "/account",
        },
    )
    assert done.status_code == 303 and done.headers["location"] == "/account"
    page = client.get("/account").text
    return client, re.search(r'name="csrf-token" content="([^"]+)"', page)[1]  # type: ignore[index]


@pytest.fixture(scope="module")
def olga(world: World) -> Iterator[httpx.Client]:
    with bearer(world, "olga") as client:
        yield client


@pytest.fixture(scope="module")
def vera(world: World) -> Iterator[httpx.Client]:
    with bearer(world, "vera") as client:
        yield client


def _ids(items: list[dict[str, Any]]) -> list[tuple[str, int]]:
    return [(a["survey"], a["alert_id"]) for a in items]


def test_health_is_open_and_everything_else_needs_a_login(world: World) -> None:
    with httpx.Client(base_url=world.url, timeout=30) as anon:
        health = anon.get("/api/v1/health").json()
        assert health["status"] == "ok" and health["store"] == "duckdb"
        assert health["counts"]["alerts"] == len(
            {(r["survey"], r["alert_id"]) for r in world.records}
        )
        assert health["ingest"]["running"] and health["ingest"]["alerts"] >= len(world.records)
        for path in [
            "/api/v1/objects/ZTF19abegmle",
            "/api/v1/cone?ra=1&dec=1&radius=1",
            "/api/v1/alerts",
            "/api/v1/scores",
            "/api/v1/filters",
            "/api/v1/me",
            "/api/v1/users",
            "/api/v1/archive/nights",
            "/api/v1/openapi.json",
            "/api/v1/filters/bright_transient/alerts",
        ]:
            got = anon.get(path)
            assert got.status_code == 401 and "log in" in got.json()["error"], path
        assert anon.post("/api/v1/me/credentials").status_code == 401
        page = anon.get("/objects/ZTF19abegmle")
        assert page.status_code == 303 and page.headers["location"].startswith("/login?next=")
        bad = anon.get("/api/v1/me", headers={"Authorization": "Bearer fct_forged"})
        assert bad.status_code == 401 and "unknown or expired" in bad.json()["error"]


def test_object_with_its_alerts_light_curve_and_scores(world: World, vera: httpx.Client) -> None:
    mine = [r for r in world.records if r["object_id"] == "ZTF19abegmle"]
    got = vera.get("/api/v1/objects/ZTF19abegmle").json()
    assert [a["alert_id"] for a in got["alerts"]] == [
        r["alert_id"] for r in sorted(mine, key=lambda r: (r["mjd_tai"], r["alert_id"]))
    ]
    first = got["alerts"][0]
    original = next(r for r in mine if r["alert_id"] == first["alert_id"])
    for key in ("mjd_tai", "ra", "dec", "mag", "band", "context", "extra_json", "xmatch"):
        assert first[key] == original[key], key
    assert "history" not in first and "cutout_science" not in first
    points = {(p["kind"], p["band"], round(p["mjd_tai"], 6)) for p in got["light_curve"]["points"]}
    expected = {("detection", r["band"], round(r["mjd_tai"], 6)) for r in mine} | {
        (h["kind"], h["band"], round(h["mjd_tai"], 6)) for r in mine for h in r["history"]
    }
    assert points == expected
    scored = {(r["alert_id"], k, p) for r in mine for k, p in scores_of(r).items()}
    got_scores = {(s["alert_id"], s["key"], s["probability"]) for s in got["light_curve"]["scores"]}
    assert got_scores == scored
    missing = vera.get("/api/v1/objects/ZTF00aaaaaaa")
    assert missing.status_code == 404 and "ZTF00aaaaaaa" in missing.json()["error"]


def test_one_alert_and_its_cutouts(world: World, vera: httpx.Client) -> None:
    rec = next(r for r in world.records if r["object_id"] == "ZTF17aaawgox")
    got = vera.get(f"/api/v1/alerts/ZTF/{rec['alert_id']}").json()
    assert got["history"] == rec["history"] and got["scores"] == rec["scores"]
    assert set(got["cutouts"]) == {"science", "template", "difference"}
    png = vera.get(got["cutouts"]["difference"])
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    assert png.content[:8] == b"\x89PNG\r\n\x1a\n"
    assert int.from_bytes(png.content[16:20], "big") == 63  # ZTF cutouts are 63 x 63
    fits_bytes = vera.get(got["cutouts"]["science"], params={"format": "fits"}).content
    assert fits_bytes == rec["cutout_science"]
    plain = next(r for r in world.records if not r["cutout_science"])
    none = vera.get(f"/api/v1/alerts/{plain['survey']}/{plain['alert_id']}/cutouts/science")
    assert none.status_code == 404 and "no science cutout" in none.json()["error"]
    assert vera.get(f"/api/v1/alerts/ZTF/{rec['alert_id']}/cutouts/other").status_code == 422
    assert vera.get("/api/v1/alerts/ZTF/1").status_code == 404
    assert vera.get("/api/v1/alerts/ztf!/1").status_code == 422


CONES = [
    (0.0, 90.0, 10.0),
    (0.0, 0.0, 10.0),
    (358.5, 27.0, 4.0),
    (1.5, 27.0, 4.0),
    (123.0, -45.0, 0.5),
]


def test_cone_search_equals_brute_force_with_pages(world: World, vera: httpx.Client) -> None:
    stored = {(r["survey"], r["alert_id"]): r for r in world.records}
    keys = list(stored)
    sky = SkyCoord(
        [stored[k]["ra"] for k in keys] * u.deg, [stored[k]["dec"] for k in keys] * u.deg
    )
    near_pole = [k for k in keys if stored[k]["dec"] > 80]
    wrap = [k for k in keys if stored[k]["ra"] < 2 or stored[k]["ra"] > 358]
    assert near_pole and wrap, "the demo alerts reach the pole cap and both sides of RA 0"
    centres = CONES + [(stored[k]["ra"], stored[k]["dec"], 1.0) for k in keys[::40]]
    centres += [(stored[k]["ra"], stored[k]["dec"], 3.0) for k in wrap[:2]]
    non_empty = 0
    for ra, dec, radius in centres:
        sep = sky.separation(SkyCoord(ra * u.deg, dec * u.deg)).deg
        expected = {keys[i] for i in np.flatnonzero(sep <= radius)}
        got: list[tuple[str, int]] = []
        url: str | None = f"/api/v1/cone?ra={ra}&dec={dec}&radius={radius}&limit=7"
        while url:
            page = vera.get(url).json()
            assert page["total"] == len(expected) and page["count"] <= 7
            got += _ids(page["items"])
            url = page["next"]
        assert len(got) == len(set(got)) and set(got) == expected, (ra, dec, radius)
        non_empty += bool(expected)
    assert non_empty >= len(centres) // 2
    pole = vera.get("/api/v1/cone", params={"ra": 0, "dec": 90, "radius": 10}).json()
    assert set(_ids(pole["items"])) == {k for k in keys if stored[k]["dec"] >= 80}


@pytest.mark.parametrize(
    ("query", "status", "says"),
    [
        ("ra=10&dec=10&radius=50", 422, "larger than the largest cone"),
        ("ra=10&dec=95&radius=1", 422, "dec"),
        ("ra=abc&dec=10&radius=1", 422, "ra"),
        ("ra=10&dec=10&radius=-1", 422, "radius"),
        ("ra=10&dec=10", 422, "radius"),
        ("ra=10&dec=10&radius=1&limit=100000", 422, "largest page"),
        ("ra=10&dec=10&radius=1&offset=999999999", 422, "narrow the query"),
        ("ra=10&dec=10&radius=1&since=60100&until=60000", 422, "swap"),
    ],
)
def test_bad_cone_queries_are_clear_4xx(
    vera: httpx.Client, query: str, status: int, says: str
) -> None:
    got = vera.get(f"/api/v1/cone?{query}")
    assert got.status_code == status and says in got.json()["error"], got.text


def test_alerts_by_score_class_context_and_time(world: World, vera: httpx.Client) -> None:
    recs = world.records
    keys = {k["key"] for k in vera.get("/api/v1/scores").json()["items"]}
    assert keys >= {k for r in recs for k in (r["scores"] or {})}
    assert keys >= {k for r in recs for k in scores_of(r)}
    key = "sntype_ztf.periodic"
    expected = {
        (r["survey"], r["alert_id"])
        for r in recs
        if ((r["scores"] or {}).get(key) or {}).get("probability") is not None
        and 0.5 <= r["scores"][key]["probability"] <= 1.0
    }
    got = vera.get(
        "/api/v1/alerts", params={"score": key, "min": 0.5, "max": 1, "limit": 500}
    ).json()
    assert expected and set(_ids(got["items"])) == expected
    assert all(0.5 <= a["score"] <= 1 for a in got["items"])

    def best(r: dict[str, Any], model: str) -> str | None:
        probs = {
            s["label"]: s["probability"]
            for s in (r["scores"] or {}).values()
            if s["model"] == model and s["probability"] is not None
        }
        # on a tie, the label first in alphabetical order (as documented)
        return max(sorted(probs), key=probs.__getitem__) if probs else None

    expected = {(r["survey"], r["alert_id"]) for r in recs if best(r, "sntype_ztf") == "periodic"}
    got = vera.get("/api/v1/alerts", params={"class": key, "limit": 500}).json()
    assert expected and set(_ids(got["items"])) == expected
    context = recs[0]["context"]
    lo, hi = sorted(r["mjd_tai"] for r in recs)[10], sorted(r["mjd_tai"] for r in recs)[-10]
    expected = {
        (r["survey"], r["alert_id"])
        for r in recs
        if r["context"] == context and lo <= r["mjd_tai"] <= hi
    }
    got = vera.get(
        "/api/v1/alerts", params={"context": context, "since": lo, "until": hi, "limit": 500}
    ).json()
    assert set(_ids(got["items"])) == expected
    mjds = [a["mjd_tai"] for a in got["items"]]
    assert mjds == sorted(mjds, reverse=True), "newest first"
    assert vera.get("/api/v1/alerts", params={"score": "no.such"}).status_code == 404
    assert vera.get("/api/v1/alerts", params={"score": key, "min": 2, "max": 1}).status_code == 422
    assert vera.get("/api/v1/alerts", params={"score": key, "class": key}).status_code == 422


def test_filters_with_versions_pass_rates_and_latest_alerts(
    world: World, vera: httpx.Client
) -> None:
    listed = {f["name"]: f for f in vera.get("/api/v1/filters").json()["items"]}
    assert "bright_transient" in listed
    first = vera.get("/api/v1/filters", params={"limit": 2}).json()
    assert first["count"] == 2 and first["total"] == len(listed) and first["next"]
    second = vera.get(first["next"]).json()
    assert [f["name"] for f in first["items"] + second["items"]] == sorted(listed)[:4]
    bright = vera.get("/api/v1/filters/bright_transient").json()
    assert bright["version"] >= 1 and bright["changelog"][0]["change"].startswith("created")
    assert bright["owner"] and bright["state"] == "enabled" and bright["editable"] is False
    topic = f"{world.prefix}.filter.bright_transient"
    on_topic = [decode_output(m.value) for m in read_topic(world.admin, topic, idle_timeout=5)]
    assert on_topic, "the real stream published the built-in filter's selection"
    assert bright["store"]["passed"] == len({(r["survey"], r["alert_id"]) for r in on_topic})
    assert bright["stream"]["passed"] == topic_counts(world.admin, [topic])[topic]
    got = vera.get("/api/v1/filters/bright_transient/alerts", params={"limit": 500}).json()
    assert set(_ids(got["items"])) == {(r["survey"], r["alert_id"]) for r in on_topic}
    assert vera.get("/api/v1/filters/no_such_filter").status_code == 404
    assert vera.get("/api/v1/filters/no_such_filter/alerts").status_code == 404
    assert vera.get("/api/v1/filters/Bad-Name/alerts").status_code == 422


def test_validate_and_backtest_use_the_stream_evaluation(world: World, vera: httpx.Client) -> None:
    ok = vera.post("/api/v1/filters/validate", json={"expression": "mag < 19 AND is_positive"})
    assert ok.status_code == 200 and ok.json()["inputs"] == ["is_positive", "mag"]
    for expression, reason in [
        ("mag <", "syntax"),
        ("magnitude < 19", "unknown_column"),
        ("reflect('java.lang.System', 'exit', 0)", "forbidden_function"),
        ("mag + 1", "not_boolean"),
    ]:
        bad = vera.post("/api/v1/filters/validate", json={"expression": expression})
        assert bad.status_code == 422 and bad.json()["reason"] == reason, bad.text
    n = 60
    result = vera.post(
        "/api/v1/filters/backtest",
        json={"expression": "mag < 19 AND is_positive", "source": "recent", "alerts": n},
    ).json()
    assert result["alerts"] == n and result["error"] is None and result["alerts_per_s"] > 0
    recent = world.portal.store.recent_records(n)
    expected = [r for r in recent if r["mag"] is not None and r["mag"] < 19 and r["is_positive"]]
    assert result["passed"] == len(expected) > 0
    assert {s["object_id"] for s in result["sample"]} <= {r["object_id"] for r in expected}
    assert (
        vera.post(
            "/api/v1/filters/backtest", json={"expression": "mag < 19", "alerts": 10**6}
        ).status_code
        == 422
    )
    assert (
        vera.post(
            "/api/v1/filters/backtest", json={"expression": "mag < 19", "source": "night"}
        ).status_code
        == 422
    )
    absent = vera.post(
        "/api/v1/filters/backtest",
        json={"expression": "mag < 19", "source": "night", "night": "1999-01-01"},
    )
    assert absent.status_code == 400 and "not in the archive" in absent.json()["error"]


def test_register_change_disable_with_owners_and_nothing_written_on_errors(
    world: World, vera: httpx.Client, olga: httpx.Client
) -> None:
    before = world.portal.registry().list_filters()
    for body, status in [
        ({"name": "vera_bad", "expression": "mag <", "description": "x"}, 422),
        ({"name": "Bad Name", "expression": "mag < 19", "description": "x"}, 422),
        ({"name": "vera_py", "expression": "m:f", "description": "x", "kind": "python"}, 422),
        ({"name": "vera_nodesc", "expression": "mag < 19"}, 422),
        ({"name": "bright_transient", "expression": "mag < 19", "description": "x"}, 409),
    ]:
        got = vera.post("/api/v1/filters", json=body)
        assert got.status_code == status, (body, got.text)
    assert (
        vera.post(
            "/api/v1/filters", content=b"{not json", headers={"content-type": "application/json"}
        ).status_code
        == 422
    )
    assert world.portal.registry().list_filters() == before, "nothing written"
    made = vera.post(
        "/api/v1/filters",
        json={"name": "vera_api", "expression": "mag < 18.5", "description": "bright"},
    )
    assert made.status_code == 201, made.text
    spec = made.json()
    assert (spec["owner"], spec["version"], spec["topic"]) == (
        "vera",
        1,
        f"{world.prefix}.filter.vera_api",
    )
    assert spec["changelog"][0]["change"] == "created by vera (portal)"
    with bearer(world, "max") as other:
        denied = other.patch("/api/v1/filters/vera_api", json={"expression": "mag < 10"})
        assert denied.status_code == 403 and "belongs to vera" in denied.json()["error"]
        assert other.post("/api/v1/filters/vera_api/disable", json={}).status_code == 403
    assert vera.patch("/api/v1/filters/vera_api", json={}).status_code == 422
    assert vera.patch("/api/v1/filters/vera_api", json={"expression": "mag <"}).status_code == 422
    changed = vera.patch(
        "/api/v1/filters/vera_api", json={"expression": "mag < 18", "note": "fainter cut"}
    ).json()
    assert changed["version"] == 2 and changed["expression"] == "mag < 18"
    assert changed["changelog"][-1]["change"].endswith("by vera (portal): fainter cut")
    assert (
        vera.patch("/api/v1/filters/bright_transient", json={"expression": "mag < 10"}).status_code
        == 403
    )
    off = olga.post("/api/v1/filters/vera_api/disable", json={"note": "operator says"}).json()
    assert (off["state"], off["version"]) == ("disabled", 3)
    on = vera.post("/api/v1/filters/vera_api/enable", json={}).json()
    assert (on["state"], on["version"]) == ("enabled", 4)
    assert world.portal.registry().show("vera_api").version == 4


def test_csrf_protects_session_requests(world: World) -> None:
    client, csrf = logged_in(world, "vera")
    try:
        body = {"label": "from-a-form"}
        forged = client.post("/api/v1/me/tokens", json=body)
        assert forged.status_code == 403 and "CSRF" in forged.json()["error"]
        wrong = client.post("/api/v1/me/tokens", json=body, headers={"X-CSRF-Token": "x" * 43})
        assert wrong.status_code == 403
        made = client.post("/api/v1/me/tokens", json=body, headers={"X-CSRF-Token": csrf})
        assert made.status_code == 201 and made.json()["token"].startswith("fct_")
        assert client.post("/logout", data={"csrf_token": csrf}).status_code == 303
        assert client.get("/api/v1/me").status_code == 401, "the session ended"
    finally:
        client.close()
    with httpx.Client(base_url=world.url) as anon:
        form = anon.get("/login").text
        assert "login_csrf" in form
        refused = anon.post(
            "/login", data={"username": "vera", "password": "nope", "login_csrf": "forged"}
        )
        assert refused.status_code == 200 and "expired" in refused.text
        anon.get("/login")
        cookie = anon.cookies.get("faucon_login")
        wrong = anon.post(
            "/login", data={"username": "vera", "password": "wrong password", "login_csrf": cookie}
        )
        assert wrong.status_code == 401 and "Wrong user or password" in wrong.text


def test_me_tokens_users_and_no_secret_of_anyone(
    world: World, vera: httpx.Client, olga: httpx.Client
) -> None:
    me = vera.get("/api/v1/me").json()
    assert me["name"] == "vera" and me["role"] == "scientist"
    assert all(
        set(t) == {"id", "label", "created_ms", "expires_ms", "last_used_ms"} for t in me["tokens"]
    )
    made = vera.post("/api/v1/me/tokens", json={"label": "second"}).json()
    with httpx.Client(
        base_url=world.url, headers={"Authorization": f"Bearer {made['token']}"}
    ) as c:
        assert c.get("/api/v1/me").json()["name"] == "vera"
        token_id = next(
            t["id"] for t in vera.get("/api/v1/me").json()["tokens"] if t["label"] == "second"
        )
        assert vera.delete(f"/api/v1/me/tokens/{token_id}").status_code == 200
        assert c.get("/api/v1/me").status_code == 401
    assert vera.get("/api/v1/users").status_code == 403
    users = olga.get("/api/v1/users").json()["items"]
    assert {u["name"] for u in users} >= {"olga", "vera", "max"}
    text = olga.get("/api/v1/users").text + vera.get("/api/v1/me").text
    assert "argon2" not in text and "password" not in text and "fct_" not in text
    for password in world.passwords.values():
        assert password not in text
    made = olga.post(
        "/api/v1/users",
        json={
            "name": "newbie",
            "password": "long enough pass",
            "grants": [f"{world.prefix}.filter.*"],
        },
    )
    assert made.status_code == 201 and made.json()["grants"] == [f"{world.prefix}.filter.*"]
    assert (
        olga.post(
            "/api/v1/users",
            json={"name": "sneaky", "password": "long enough pass", "grants": ["raw.ztf"]},
        ).status_code
        == 400
    )
    assert (
        olga.post(
            "/api/v1/users", json={"name": "newbie", "password": "long enough pass"}
        ).status_code
        == 400
    )
    assert olga.delete("/api/v1/users/newbie").status_code == 200
    assert olga.delete("/api/v1/users/olga").status_code == 422


def test_credentials_read_own_topics_only(world: World, vera: httpx.Client) -> None:
    from broker.core.errors import AccessDenied
    from broker.kafka.credentials import read_properties, settings_with_credentials

    made = vera.post(
        "/api/v1/filters",
        json={"name": "vera_reads", "expression": "mag < 19", "description": "to read"},
    )
    assert made.status_code == 201, made.text
    got = vera.post("/api/v1/me/credentials")
    assert got.status_code == 200 and "attachment" in got.headers["content-disposition"]
    props = dict(
        line.split("=", 1)
        for line in got.text.splitlines()
        if "=" in line and not line.startswith("#")
    )
    assert props["sasl.username"] == "vera" and len(props["sasl.password"]) >= 24
    assert props["bootstrap.servers"] == world.settings.kafka.bootstrap
    path = world.settings.state_dir / "vera-api.properties"
    path.write_text(got.text)
    assert read_properties(path)["sasl.password"] == props["sasl.password"]
    as_vera = settings_with_credentials(world.settings, path)
    topic = f"{world.prefix}.filter.vera_reads"
    ensure_topics(world.admin, [topic])  # what the stream does at its next micro-batch
    visible = list_topics(as_vera)
    assert topic in visible and all(t.startswith(f"{world.prefix}.filter.vera") for t in visible)
    assert list(read_topic(as_vera, topic, idle_timeout=3)) == []  # allowed, and empty so far
    with pytest.raises(AccessDenied):
        list(read_topic(as_vera, world.settings.kafka.enriched_topic, idle_timeout=10))
    assert props["sasl.password"] not in vera.get("/api/v1/me").text


def test_archive_nights_through_the_api(world: World, vera: httpx.Client, spark: Any) -> None:
    from broker.archive.night import archive_night, night_of

    night = night_of(next(r for r in world.records if r["object_id"] == "ZTF17aaawgox")["mjd_tai"])
    run = archive_night(world.settings, night, spark=spark)
    assert run.archived_rows > 0
    nights = vera.get("/api/v1/archive/nights").json()["items"]
    assert [n["alerts"] for n in nights if n["night"] == night] == [run.archived_rows]
    in_night = [r for r in world.records if night_of(r["mjd_tai"]) == night]
    got = vera.get(f"/api/v1/archive/nights/{night}/alerts", params={"limit": 500}).json()
    assert got["total"] == run.archived_rows
    assert set(_ids(got["items"])) == {(r["survey"], r["alert_id"]) for r in in_night}
    one = vera.get(
        f"/api/v1/archive/nights/{night}/alerts", params={"object_id": "ZTF17aaawgox"}
    ).json()
    assert one["items"] and {a["object_id"] for a in one["items"]} == {"ZTF17aaawgox"}
    obj = vera.get("/api/v1/objects/ZTF17aaawgox", params={"archive": "true"}).json()
    assert {a["alert_id"] for a in obj["archived_alerts"]} == {a["alert_id"] for a in one["items"]}
    result = vera.post(
        "/api/v1/filters/backtest",
        json={"expression": "mag < 19", "source": "night", "night": night, "alerts": 500},
    ).json()
    assert result["alerts"] == run.archived_rows
    assert result["passed"] == sum(1 for r in in_night if r["mag"] is not None and r["mag"] < 19)
    bad = vera.get(f"/api/v1/archive/nights/{night}/alerts", params={"ra": 1, "dec": 1})
    assert bad.status_code == 422


def test_openapi_documents_every_endpoint(vera: httpx.Client) -> None:
    spec = vera.get("/api/v1/openapi.json").json()
    paths = set(spec["paths"])
    for path in [
        "/api/v1/health",
        "/api/v1/objects/{object_id}",
        "/api/v1/cone",
        "/api/v1/alerts",
        "/api/v1/alerts/{survey}/{alert_id}/cutouts/{kind}",
        "/api/v1/filters",
        "/api/v1/filters/{name}/alerts",
        "/api/v1/filters/backtest",
        "/api/v1/me/credentials",
        "/api/v1/archive/nights",
    ]:
        assert path in paths, path
    page = vera.get("/api")
    assert page.status_code == 200 and "/api/v1/cone" in page.text
