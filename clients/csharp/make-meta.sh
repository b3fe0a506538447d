#!/usr/bin/env bash
# Writes the Unity .meta file of every file and folder of the package (clients/csharp/Tickstream/)
# that has none: Unity ignores files without one in a package installed from git. The GUID is
# derived from the path, so running it again changes nothing. test.sh fails when one is missing.
set -euo pipefail
cd "$(dirname "$0")/Tickstream"
find . -mindepth 1 ! -name '*.meta' | sort | while IFS= read -r path; do
    meta="$path.meta"
    [ -e "$meta" ] && continue
    guid=$(printf 'tickstream-csharp:%s' "${path#./}" | md5sum | cut -c1-32)
    {
        echo "fileFormatVersion: 2"
        echo "guid: $guid"
        if [ -d "$path" ]; then
            echo "folderAsset: yes"
            importer=DefaultImporter
        else
            case "$path" in
                *.cs) importer=MonoImporter ;;
                *.asmdef) importer=AssemblyDefinitionImporter ;;
                package.json|./package.json) importer=PackageManifestImporter ;;
                *) importer=TextScriptImporter ;;
            esac
        fi
        echo "$importer:"
        echo "  externalObjects: {}"
        if [ "$importer" = MonoImporter ]; then
            echo "  serializedVersion: 2"
            echo "  defaultReferences: []"
            echo "  executionOrder: 0"
            echo "  icon: {instanceID: 0}"
        fi
        echo "  userData: "
        echo "  assetBundleName: "
        echo "  assetBundleVariant: "
    } >"$meta"
    echo "wrote ${meta#./}"
done
