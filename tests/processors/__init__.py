"""Tests of vigie.processors (a package so its test module names cannot clash with tests/cli)."""
