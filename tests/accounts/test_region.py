import pytest
from django.core.exceptions import ValidationError

from accounts.models import NATIONAL, Role, User, normalise_region


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("PE", "PE"),
        ("nacional", "PE"),
        ("08", "08"),
        ("0801", "0801"),
        ("080102, 080101", "080101,080102"),
        ("", ""),
        ("080101,080101", "080101"),
    ],
)
def test_region_is_normalised(raw, expected):
    assert normalise_region(raw) == expected


@pytest.mark.parametrize("raw", ["8", "080", "08,15", "0801,080101", "abc", "08010", "PE,08"])
def test_malformed_region_is_refused(raw):
    with pytest.raises(ValidationError):
        normalise_region(raw)


def user(role=Role.POLICY_MAKER, region=NATIONAL, active=True):
    return User(username="x", role=role, region=region, is_active=active)


@pytest.mark.parametrize(
    ("region", "code", "inside"),
    [
        ("PE", "150101", True),
        ("08", "080101", True),
        ("08", "0801", True),
        ("08", "150101", False),
        ("0801", "080101", True),
        ("0801", "080201", False),
        ("0801", "08", False),
        ("080101,080105", "080105", True),
        ("080101,080105", "080102", False),
        ("", "080101", False),
    ],
)
def test_can_access_ubigeo_means_inside_the_region(region, code, inside):
    assert user(region=region).can_access_ubigeo(code) is inside


def test_a_district_user_can_view_the_areas_that_contain_it_but_not_act_on_them():
    staff = user(Role.SCHOOL_STAFF, "080101")
    assert staff.can_view_area("08") and staff.can_view_area("0801")
    assert not staff.can_access_ubigeo("08")
    assert not staff.can_view_area("0802")


def test_administrators_act_nationally_whatever_their_stored_region():
    admin = user(Role.ADMIN, region="")
    assert admin.can_access_ubigeo("150101")
    assert admin.region_level == "national"


def test_inactive_users_access_nothing():
    assert not user(region=NATIONAL, active=False).can_access_ubigeo("150101")


@pytest.mark.django_db
def test_ubigeo_q_filters_rows_by_region(make_user):
    make_user("lima", Role.SCHOOL_STAFF, "150101")
    make_user("cusco", Role.SCHOOL_STAFF, "080101")
    make_user("cusco2", Role.SCHOOL_STAFF, "080205")
    make_user("none", Role.SCHOOL_STAFF, "")
    viewer = user(region="08")
    usernames = set(User.objects.filter(viewer.ubigeo_q("region")).values_list("username", flat=True))
    assert usernames == {"cusco", "cusco2"}
    assert not User.objects.filter(user(region="").ubigeo_q("region")).exists()
    several = user(region="080101,150101")
    assert set(User.objects.filter(several.ubigeo_q("region")).values_list("username", flat=True)) == {"lima", "cusco"}


@pytest.mark.parametrize(
    ("first", "second", "meet"),
    [
        ([""], ["080101"], True),  # national meets everything
        (["08"], ["080101"], True),
        (["080101"], ["0801"], True),
        (["08"], ["15"], False),
        (["0801", "150101"], ["15"], True),
        (["080101"], ["080102"], False),
        ([], ["08"], False),  # no region meets nothing
    ],
)
def test_regions_meet_where_one_contains_the_other(first, second, meet):
    from accounts.models import regions_meet

    assert regions_meet(first, second) is meet and regions_meet(second, first) is meet


@pytest.mark.parametrize(
    ("first", "second", "overlap"),
    [
        ([""], ["08"], ["08"]),
        ([""], [""], [""]),
        (["08"], ["080101", "150101"], ["080101"]),
        (["0801", "15"], ["08"], ["0801"]),
        (["08"], ["15"], []),
    ],
)
def test_regions_overlap_is_the_smaller_of_each_meeting_pair(first, second, overlap):
    from accounts.models import regions_overlap

    assert regions_overlap(first, second) == overlap == regions_overlap(second, first)
