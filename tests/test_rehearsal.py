"""The rehearsal's settings (labs_common.rehearsal): real settings of the full profile, each
cut below the full profile's own value."""

from numbers import Number

from labs_common.profiles import get_profile
from labs_common.rehearsal import REHEARSAL_SETTINGS


def test_the_full_profile_takes_every_rehearsal_setting():
    full = get_profile("full")
    shortened = full.with_settings(**REHEARSAL_SETTINGS)
    for lab, values in REHEARSAL_SETTINGS.items():
        for name, value in values.items():
            assert getattr(getattr(shortened, lab), name) == value, (lab, name)


def test_every_size_is_cut_below_the_full_profiles_own():
    full = get_profile("full")
    for lab, values in REHEARSAL_SETTINGS.items():
        for name, value in values.items():
            real = getattr(getattr(full, lab), name)
            if isinstance(value, Number) and isinstance(real, Number):
                assert value < real, (lab, name, value, real)
            else:
                assert len(value) <= len(real), (lab, name)
