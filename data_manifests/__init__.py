"""Scene manifests shipped as package data (one JSON file per scene)."""
