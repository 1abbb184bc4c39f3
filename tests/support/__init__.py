"""Fakes and builders the tests share: loopback servers, scripted traders, process helpers.

Tests reach them through the fixtures in conftest.py or by importing this package; no test
module imports another."""
