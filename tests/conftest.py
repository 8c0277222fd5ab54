import pytest


@pytest.fixture(scope="session")
def small_models(tmp_path_factory):
    """Random 64-unit LSTM and GRU models quantized in several schemes: {(cell, scheme): path}
    (shared by the host and virt stream tests; stream_helpers.make_small_models)."""
    from stream_helpers import make_small_models

    return make_small_models(tmp_path_factory)
