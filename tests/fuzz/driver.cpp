// Deterministic driver for the fuzz targets, used when they are not built with libFuzzer (the
// normal build, and CI): runs every file of the seed corpus, then `iterations` inputs mutated
// from the seeds with a fixed-seed PRNG (bit flips, byte changes, insertions of bytes that parsers
// care about, truncations, splices). A crash, a sanitizer report or an uncaught exception other
// than acme::Error fails the test. With -DACME_FUZZ=ON and clang, the same targets link against
// libFuzzer instead, for open-ended fuzzing.
//
//   fuzz_<target> CORPUS_DIR [ITERATIONS]
#include <dirent.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

std::vector<std::string> load_corpus(const std::string& dir) {
    std::vector<std::string> out;
    DIR* d = opendir(dir.c_str());
    if (!d) {
        std::fprintf(stderr, "fuzz: cannot open corpus %s\n", dir.c_str());
        std::exit(2);
    }
    std::vector<std::string> names;
    while (dirent* e = readdir(d)) {
        if (e->d_name[0] != '.') names.emplace_back(e->d_name);
    }
    closedir(d);
    std::sort(names.begin(), names.end());
    for (const std::string& n : names) {
        std::ifstream f(dir + "/" + n, std::ios::binary);
        std::stringstream ss;
        ss << f.rdbuf();
        out.push_back(ss.str());
    }
    return out;
}

std::string mutate(const std::vector<std::string>& seeds, std::mt19937_64& rng) {
    static const char* kInteresting[] = {"\"", "\\", "{", "}", "[", "]", ":", ",", "\0", "\xff",
                                         "-----", "\n", "=", "<", ">", ";", "*.", "..", "/",
                                         "9999999999", "-1", "null", "true", "T", "Z", "%"};
    std::string s = seeds[rng() % seeds.size()];
    const int rounds = 1 + static_cast<int>(rng() % 8);
    for (int r = 0; r < rounds; ++r) {
        const size_t pos = s.empty() ? 0 : rng() % (s.size() + 1);
        switch (rng() % 6) {
            case 0:  // flip a bit
                if (!s.empty()) s[pos % s.size()] ^= static_cast<char>(1u << (rng() % 8));
                break;
            case 1:  // replace a byte
                if (!s.empty()) s[pos % s.size()] = static_cast<char>(rng() & 0xff);
                break;
            case 2: {  // insert something parsers care about
                const char* t = kInteresting[rng() % (sizeof kInteresting / sizeof *kInteresting)];
                s.insert(pos, t[0] ? std::string(t) : std::string(1, '\0'));
                break;
            }
            case 3:  // truncate
                s.resize(pos);
                break;
            case 4: {  // splice another seed's tail
                const std::string& o = seeds[rng() % seeds.size()];
                if (!o.empty()) s = s.substr(0, pos) + o.substr(rng() % o.size());
                break;
            }
            case 5: {  // duplicate a chunk
                if (!s.empty()) {
                    size_t len = 1 + rng() % std::min<size_t>(s.size(), 64);
                    size_t from = rng() % s.size();
                    s.insert(pos, s.substr(from, len));
                }
                break;
            }
        }
    }
    if (s.size() > 64 * 1024) s.resize(64 * 1024);
    return s;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: %s CORPUS_DIR [ITERATIONS]\n", argv[0]);
        return 2;
    }
    const long iterations = argc > 2 ? std::atol(argv[2]) : 20000;
    std::vector<std::string> seeds = load_corpus(argv[1]);
    if (seeds.empty()) seeds.emplace_back();
    for (const std::string& s : seeds)
        LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(s.data()), s.size());
    std::mt19937_64 rng(0x5eed);
    for (long i = 0; i < iterations; ++i) {
        std::string s = mutate(seeds, rng);
        LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(s.data()), s.size());
    }
    std::printf("fuzz: %zu seeds and %ld mutated inputs, no crash\n", seeds.size(), iterations);
    return 0;
}
