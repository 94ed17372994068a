#!/usr/bin/env python3
"""Writes the .meta file of every file and folder of the Unity package (UnityBridge/Package) that has
none, and rewrites the .meta of each shipped DLL (Plugins/*.dll) so its import settings are ours.

Unity keys every asset by the GUID in its .meta file. A package added by git URL is read-only, so
Unity cannot write missing ones; a package added from disk would get fresh GUIDs in every clone.
So they are committed, and stable: each GUID is the MD5 of "com.ediffi.bridge/<path in the package>",
the same on every run. Existing .meta files of other assets are left alone.

Usage (from the repository root): python3 UnityBridge/PackageCheck/make_meta.py
"""
import hashlib
import os

PACKAGE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Package")
PACKAGE_NAME = "com.ediffi.bridge"

# Third-party DLLs a project may already carry (Unity allows one DLL of a name per platform): the
# project defines the symbol and ours steps aside. The client itself has no such switch.
OWN_COPY_DEFINES = {
    "MessagePack.dll": "EDIFFI_PROJECT_HAS_MESSAGEPACK",
    "MessagePack.Annotations.dll": "EDIFFI_PROJECT_HAS_MESSAGEPACK",
    "Microsoft.Bcl.AsyncInterfaces.dll": "EDIFFI_PROJECT_HAS_BCL_ASYNCINTERFACES",
    "Microsoft.NET.StringTools.dll": "EDIFFI_PROJECT_HAS_STRINGTOOLS",
    "System.Collections.Immutable.dll": "EDIFFI_PROJECT_HAS_IMMUTABLE",
    "System.Runtime.CompilerServices.Unsafe.dll": "EDIFFI_PROJECT_HAS_UNSAFE",
    # The farm client's NATS.Net closure.
    "NATS.Client.Abstractions.dll": "EDIFFI_PROJECT_HAS_NATS",
    "NATS.Client.Core.dll": "EDIFFI_PROJECT_HAS_NATS",
    "NATS.Client.JetStream.dll": "EDIFFI_PROJECT_HAS_NATS",
    "NATS.Client.KeyValueStore.dll": "EDIFFI_PROJECT_HAS_NATS",
    "NATS.Client.ObjectStore.dll": "EDIFFI_PROJECT_HAS_NATS",
    "NATS.NKeys.dll": "EDIFFI_PROJECT_HAS_NATS",
    "Microsoft.Extensions.Logging.Abstractions.dll": "EDIFFI_PROJECT_HAS_LOGGING_ABSTRACTIONS",
    "Microsoft.Extensions.Primitives.dll": "EDIFFI_PROJECT_HAS_EXTENSIONS_PRIMITIVES",
    "System.ComponentModel.Annotations.dll": "EDIFFI_PROJECT_HAS_COMPONENTMODEL_ANNOTATIONS",
    "System.Diagnostics.DiagnosticSource.dll": "EDIFFI_PROJECT_HAS_DIAGNOSTICSOURCE",
    "System.IO.Pipelines.dll": "EDIFFI_PROJECT_HAS_PIPELINES",
    "System.Text.Encodings.Web.dll": "EDIFFI_PROJECT_HAS_SYSTEM_TEXT_JSON",
    "System.Text.Json.dll": "EDIFFI_PROJECT_HAS_SYSTEM_TEXT_JSON",
    "System.Threading.Channels.dll": "EDIFFI_PROJECT_HAS_CHANNELS",
}

TAIL = "  userData: \n  assetBundleName: \n  assetBundleVariant: \n"


def guid(relative):
    return hashlib.md5(f"{PACKAGE_NAME}/{relative}".encode("utf-8")).hexdigest()


def folder_meta(g):
    return f"fileFormatVersion: 2\nguid: {g}\nfolderAsset: yes\nDefaultImporter:\n  externalObjects: {{}}\n" + TAIL


def script_meta(g):
    return (f"fileFormatVersion: 2\nguid: {g}\nMonoImporter:\n  externalObjects: {{}}\n  serializedVersion: 2\n"
            "  defaultReferences: []\n  executionOrder: 0\n  icon: {instanceID: 0}\n" + TAIL)


def simple_meta(g, importer):
    return f"fileFormatVersion: 2\nguid: {g}\n{importer}:\n  externalObjects: {{}}\n" + TAIL


def plugin_meta(g, file_name):
    define = OWN_COPY_DEFINES.get(file_name)
    constraints = "  defineConstraints: []\n" if define is None else f"  defineConstraints:\n  - '!{define}'\n"
    # Editor only (Any Platform off, Editor on), not auto-referenced (isExplicitlyReferenced: 1):
    # only the package's assembly definitions, which name it, compile against it; players never carry it.
    return (f"fileFormatVersion: 2\nguid: {g}\nPluginImporter:\n  externalObjects: {{}}\n  serializedVersion: 2\n"
            "  iconMap: {}\n  executionOrder: {}\n" + constraints +
            "  isPreloaded: 0\n  isOverridable: 0\n  isExplicitlyReferenced: 1\n  validateReferences: 1\n"
            "  platformData:\n"
            "  - first:\n      Any: \n    second:\n      enabled: 0\n      settings: {}\n"
            "  - first:\n      Editor: Editor\n    second:\n      enabled: 1\n      settings:\n"
            "        CPU: AnyCPU\n        DefaultValueInitialized: true\n        OS: AnyOS\n" + TAIL)


def meta_for(relative, is_folder):
    g = guid(relative)
    name = os.path.basename(relative)
    if is_folder:
        return folder_meta(g)
    if name.endswith(".cs"):
        return script_meta(g)
    if name.endswith(".asmdef"):
        return simple_meta(g, "AssemblyDefinitionImporter")
    if name == "package.json":
        return simple_meta(g, "PackageManifestImporter")
    if name.endswith(".dll"):
        return plugin_meta(g, name)
    if name.endswith((".md", ".txt", ".json")):
        return simple_meta(g, "TextScriptImporter")
    return simple_meta(g, "DefaultImporter")


def main():
    root = os.path.normpath(PACKAGE)
    written = 0
    for folder, folders, files in os.walk(root):
        folders[:] = sorted(f for f in folders if not f.startswith("."))
        entries = [(f, True) for f in folders] + [(f, False) for f in sorted(files) if not f.endswith(".meta") and not f.startswith(".")]
        for name, is_folder in entries:
            relative = os.path.relpath(os.path.join(folder, name), root).replace(os.sep, "/")
            meta = os.path.join(folder, name + ".meta")
            if os.path.exists(meta) and not name.endswith(".dll"):
                continue
            text = meta_for(relative, is_folder)
            if os.path.exists(meta) and open(meta, encoding="utf-8").read() == text:
                continue
            with open(meta, "w", encoding="utf-8", newline="\n") as f:
                f.write(text)
            written += 1
            print("wrote", os.path.relpath(meta, root))
    print(f"{written} .meta file(s) written")


if __name__ == "__main__":
    main()
