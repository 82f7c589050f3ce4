"""One line for a value that is not one of the valid ones: the valid values and the closest."""

import difflib


def not_one_of(what, value, valid):
    """``"stage 'Clas2D' is not one of Class2D, Class3D (did you mean 'Class2D'?)"``."""
    valid = [str(v) for v in valid]
    close = difflib.get_close_matches(str(value), valid, n=1)
    hint = f' (did you mean {close[0]!r}?)' if close else ''
    return f'{what} {value!r} is not one of {", ".join(valid) or "none"}{hint}'

