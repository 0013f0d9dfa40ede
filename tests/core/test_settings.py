import re

from tests.conftest import REPO


def test_env_example_lists_every_variable_the_settings_read():
    settings_text = (REPO / "eduplatform" / "settings.py").read_text()
    read = set(re.findall(r'env_(?:str|bool|int|float|list)\(\s*"([A-Z_]+)"', settings_text))
    listed = set(re.findall(r"^([A-Z_]+)=", (REPO / ".env.example").read_text(), re.M))
    assert read - listed == set(), "add these to .env.example"
