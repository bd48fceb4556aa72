# The program the grader runs in the student's kernel to store one check's artifacts.
#
# This file is not imported in the kernel: ``artifacts.capture_source`` sends its text
# as a cell, followed by one call of ``__course_grader_capture``. It therefore imports
# nothing at module level and relies on nothing a student could have monkeypatched
# easily: builtins are reached through the ``builtins`` module (a notebook global
# ``list = ...`` does not matter), NumPy arrays are written in the ``.npy`` format by
# hand from the C-level ``ndarray.tobytes`` (a patched ``np.save`` does not matter),
# plain values are encoded to JSON by hand (a patched ``json.dump`` does not matter) and
# Keras models are saved through Keras' saving library rather than ``Model.save``.
# Nothing is pickled. It is linted and unit-tested like any other module.


def __course_grader_capture(getters, outdir, manifest_name):
    """Store ``getters`` (name, zero-argument callable) under ``outdir`` with a manifest."""
    import _io
    import builtins as b
    import importlib
    import os

    os.makedirs(outdir, exist_ok=True)

    def write(name, data):
        with _io.open(os.path.join(outdir, name), "wb") as handle:
            handle.write(data)

    def base(value, module_prefix, class_name):
        for klass in b.type(value).__mro__:
            if klass.__name__ == class_name and klass.__module__.startswith(module_prefix):
                return klass
        return None

    def esc(char):
        if char == '"' or char == "\\":
            return "\\" + char
        if b.ord(char) < 32:
            return "\\u%04x" % b.ord(char)  # noqa: UP031
        return char

    def enc(value):
        if value is None:
            return "null"
        if value is True:
            return "true"
        if value is False:
            return "false"
        if base(value, "numpy", "generic") is not None:
            return enc(value.item())
        ndarray = base(value, "numpy", "ndarray")
        if ndarray is not None:
            return enc(ndarray.tolist(value))
        if b.isinstance(value, b.int):
            return b.int.__repr__(value)
        if b.isinstance(value, b.float):
            text = b.float.__repr__(value)
            return {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}.get(text, text)
        if b.isinstance(value, b.str):
            return '"' + "".join([esc(char) for char in value]) + '"'
        if b.isinstance(value, (b.list, b.tuple)):
            return "[" + ",".join([enc(item) for item in value]) + "]"
        if b.isinstance(value, b.dict):
            items = []
            for item_key, item in value.items():
                if not b.isinstance(item_key, b.str):
                    raise b.TypeError("dict keys must be strings")
                items.append(enc(item_key) + ":" + enc(item))
            return "{" + ",".join(items) + "}"
        raise b.TypeError("cannot store a value of type " + b.type(value).__name__)

    def describe(error):
        text = b.str(error)
        return b.type(error).__name__ + (": " + text if text else "")

    def npy(value, ndarray):
        dtype = value.dtype
        if dtype.hasobject or dtype.fields is not None or dtype.subdtype is not None:
            raise b.TypeError("cannot store an array of dtype " + b.str(dtype))
        header = "{'descr': %s, 'fortran_order': False, 'shape': %s, }" % (  # noqa: UP031
            b.repr(dtype.str), b.repr(b.tuple([b.int(n) for n in value.shape])))
        header = header + " " * (63 - (10 + b.len(header)) % 64) + "\n"
        data = ndarray.tobytes(value, "C")
        size = b.len(header).to_bytes(2, "little")
        return b"\x93NUMPY\x01\x00" + size + header.encode("latin1") + data

    def save_model(model, path):
        try:
            saving_lib = importlib.import_module("keras.src.saving.saving_lib")
            saving_lib.save_model(model, path)
        except b.ImportError:
            model.save(path)

    manifest = {}
    for name, getter in getters:
        try:
            value = getter()
        except b.BaseException as error:
            manifest[name] = {"kind": "missing", "detail": describe(error)}
            continue
        type_name = b.type(value).__name__
        try:
            if base(value, "keras", "Model") is not None:
                save_model(value, os.path.join(outdir, name + ".keras"))
                manifest[name] = {"kind": "keras", "file": name + ".keras", "type": type_name}
                continue
            ndarray = base(value, "numpy", "ndarray")
            scalar = base(value, "numpy", "generic") is not None
            if ndarray is None and not scalar and b.hasattr(value, "__array__"):
                value = value.__array__()
                ndarray = base(value, "numpy", "ndarray")
            if ndarray is not None:
                write(name + ".npy", npy(value, ndarray))
                manifest[name] = {"kind": "npy", "file": name + ".npy", "type": type_name}
                continue
            write(name + ".json", enc(value).encode("utf-8"))
            manifest[name] = {"kind": "json", "file": name + ".json", "type": type_name}
        except b.BaseException as error:
            manifest[name] = {"kind": "unserialisable", "type": type_name, "detail": describe(error)}
    write(manifest_name, enc(manifest).encode("utf-8"))
