"""nginx-module/build-module.sh and nginx-module/config: rebuild dependencies.

* The module's object depends on the core's C ABI header (ngx_module_deps), so a change of
  acme.h rebuilds the module.
* A new nginx-dev build kit (its conf_flags or src/core/nginx.h change, as with a package
  upgrade) gets copied and configured again, even when the new files are not newer than the last
  build (a downgrade), so the module is never built against the old kit's flags or version.

Runs the script on a copy of the kit (/usr/share/nginx/src) in the workspace."""

import os
import unittest

import harness
import nginx_harness

KIT = "/usr/share/nginx/src"


@unittest.skipUnless(os.path.exists(os.path.join(KIT, "conf_flags")), "nginx-dev not installed")
@nginx_harness.require_module
class TestBuildKit(harness.HarnessTestCase):

    def build(self, kit, build_dir, out):
        core = os.path.join(harness.build_dir(), "lib", "libacme_core.a")
        if not os.path.exists(core):
            self.skipTest("%s is not built" % core)
        cp = harness.run(["sh", os.path.join(harness.source_dir(), "nginx-module",
                                             "build-module.sh"),
                          kit, os.path.join(harness.source_dir(), "nginx-module"), build_dir,
                          core, out], check=False, timeout=600)
        self.assertEqual(cp.returncode, 0, (cp.stdout + cp.stderr).decode(errors="replace"))
        self.assertTrue(os.path.exists(out))

    def test_kit_change_reconfigures_and_header_is_a_dependency(self):
        kit = self.ws.file("kit")
        harness.run(["cp", "-a", KIT, kit])
        build_dir = self.ws.file("nginx-build")
        out = self.ws.file("modules", "ngx_http_acme_module.so")
        self.build(kit, build_dir, out)

        with open(os.path.join(build_dir, "Makefile")) as f:
            makefile = f.read()
        deps = [line for line in makefile.splitlines() if line.startswith("ADDON_DEPS")]
        self.assertTrue(deps and "common/include/acme/acme.h" in deps[0], deps)

        # A "new" kit whose files are older than the build: the copy is refreshed anyway.
        header = os.path.join(kit, "src", "core", "nginx.h")
        with open(header, "a") as f:
            f.write("\n/* kit changed by test_214 */\n")
        old = os.stat(os.path.join(build_dir, "Makefile")).st_mtime - 3600
        os.utime(header, (old, old))
        self.build(kit, build_dir, out)
        with open(os.path.join(build_dir + "-src", "src", "core", "nginx.h")) as f:
            self.assertIn("kit changed by test_214", f.read())

        # conf_flags too.
        flags = os.path.join(kit, "conf_flags")
        with open(flags, "a") as f:
            f.write("\n# changed by test_214\n")
        os.utime(flags, (old, old))
        self.build(kit, build_dir, out)
        with open(os.path.join(build_dir + "-src", "conf_flags")) as f:
            self.assertIn("changed by test_214", f.read())

        # Nothing changed: no new configure (the copy stays as it is).
        marker = os.path.join(build_dir + "-src", "marker")
        with open(marker, "w") as f:
            f.write("x")
        self.build(kit, build_dir, out)
        self.assertTrue(os.path.exists(marker))


if __name__ == "__main__":
    unittest.main()
