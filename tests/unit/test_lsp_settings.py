"""Editor settings decode with cattrs: good values land, each bad one is a warning + default."""

from __future__ import annotations

from envlayers.lsp.settings import ServerSettings, decode_settings


def test_good_values() -> None:
    settings, warnings = decode_settings(
        {
            "envlayers": {
                "installer": "uv",
                "autoSync": True,
                "cacheDir": "~/c",
                "showNotifications": False,
                "indexUrl": "",
                "extraIndexUrls": ["https://a", ""],
                "findLinks": "/wheels",
                "noIndex": True,
                "cacheDir_unused": None,
            }
        }
    )
    assert warnings == []
    assert settings == ServerSettings(
        installer="uv",
        auto_sync=True,
        cache_dir="~/c",
        show_notifications=False,
        index_url=None,
        extra_index_urls=("https://a",),
        find_links=("/wheels",),
        no_index=True,
    )


def test_each_bad_value_warns_and_defaults() -> None:
    settings, warnings = decode_settings(
        {"installer": "bogus", "autoSync": "yes", "nope": 1, "findLinks": [3], "noIndex": True}
    )
    assert settings == ServerSettings(no_index=True)
    assert warnings == [
        "envlayers.installer must be one of auto, uv, pip; using the default",
        "envlayers.autoSync must be true or false; using the default",
        "unknown setting envlayers.nope; ignored",
        "envlayers.findLinks must be a list of strings; using the default",
    ]


def test_not_an_object() -> None:
    assert decode_settings(None) == (ServerSettings(), [])
    assert decode_settings([1]) == (
        ServerSettings(),
        ["envlayers settings must be an object, not list"],
    )


def test_the_editors_default_installer_leaves_pyproject_to_decide() -> None:
    from envlayers.config import Options
    from envlayers.lsp.settings import ServerSettings, apply_settings

    auto = apply_settings(Options(), ServerSettings(installer="auto"))
    assert auto.installer is None  # pyproject's `installer = "pip"` then wins, as in the CLI
    assert apply_settings(Options(), ServerSettings(installer="pip")).installer == "pip"
    assert (
        apply_settings(Options(installer="uv"), ServerSettings(installer="pip")).installer == "uv"
    )
