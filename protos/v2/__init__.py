"""Generated code for package ``fedtrade.protos.v2`` (scripts/codegen; do not edit)."""
