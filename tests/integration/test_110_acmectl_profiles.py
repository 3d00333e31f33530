"""ACME profiles through the CA front: --profile shortlived is sent in newOrder; an unknown
profile is refused before any order, with a message naming it and the offered ones; a
certificate of another profile is replaced at once, not at its next renewal."""

import os
import unittest

from acmectl_harness import AcmectlTestCase


class TestProfiles(AcmectlTestCase):

    def setUp(self):
        super().setUp()
        self.pebble = self.ws.start_pebble(env={"PEBBLE_WFE_NONCEREJECT": "0"})
        self.front = self.ws.start_ca_front(self.pebble)

    def test_profile_is_sent(self):
        self.issue(self.front, self.pebble, ["example.org"], "--profile", "shortlived")
        self.assertEqual(self.front.profiles_seen, ["shortlived"])
        self.issue(self.front, self.pebble, ["other.example.org"])
        self.assertEqual(self.front.profiles_seen, ["shortlived", None])

    def test_another_profile_is_ordered_at_once(self):
        self.issue(self.front, self.pebble, ["example.org"])
        self.issue(self.front, self.pebble, ["example.org"])  # valid: nothing to do
        self.assertEqual(self.front.profiles_seen, [None])
        self.issue(self.front, self.pebble, ["example.org"], "--profile", "shortlived")
        self.assertEqual(self.front.profiles_seen, [None, "shortlived"])
        self.issue(self.front, self.pebble, ["example.org"], "--profile", "shortlived")
        self.assertEqual(self.front.profiles_seen, [None, "shortlived"])

    def test_unknown_profile_is_refused_before_ordering(self):
        r = self.issue(self.front, self.pebble, ["example.org"], "--profile", "tiny", check=None)
        self.assertEqual(r.returncode, 2, r)
        self.assertIn('"tiny"', r.stderr)
        self.assertIn("classic", r.stderr)
        self.assertIn("shortlived", r.stderr)
        self.assertEqual(self.front.count("newOrder"), 0)
        self.assertEqual(self.front.profiles_seen, [])
        self.assertFalse(os.path.exists(self.store_path("certs", "example.org", "ecdsa-p256.pem")))

    def test_profile_with_a_ca_without_profiles_is_refused(self):
        r = self.issue(self.pebble, self.pebble, ["example.org"], "--profile", "shortlived",
                       check=None)
        self.assertEqual(r.returncode, 2, r)
        self.assertIn('"shortlived"', r.stderr)
        self.assertIn("offers no ACME profiles", r.stderr)


if __name__ == "__main__":
    unittest.main()
