import complaintflow


def test_all_is_sorted() -> None:
    assert list(complaintflow.__all__) == sorted(complaintflow.__all__)


def test_all_is_complete() -> None:
    public = {
        name
        for name in vars(complaintflow)
        if not name.startswith("_")
        and name not in {"annotations"}
        and type(getattr(complaintflow, name)).__name__ != "module"
    }
    assert public | {"__version__"} == set(complaintflow.__all__)


def test_every_error_derives_from_the_root() -> None:
    for name in complaintflow.__all__:
        obj = getattr(complaintflow, name)
        if isinstance(obj, type) and issubclass(obj, Exception):
            assert issubclass(obj, complaintflow.ComplaintflowError), name
