// FileExtractor and safe_file_name against hostile names and a hostile folder:
// each test makes its own tree under /tmp, plants files, folders and symlinks
// (to /etc/passwd, outside the folder, dangling) where the extractor will want
// to write, and then checks that nothing outside DIR changed, nothing existing
// was replaced, and the expected names hold the expected bytes.
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "analyzers/file_extractor.hpp"

using namespace wl;
namespace fs = std::filesystem;
using namespace std::string_literals;

namespace {

// A fresh tree: root/out is DIR, root/outside holds what must stay untouched.
struct Tree {
    fs::path root;
    fs::path dir;
    fs::path outside;

    Tree() {
        char tmpl[] = "/tmp/wirelens-extract-XXXXXX";
        REQUIRE(::mkdtemp(tmpl) != nullptr);
        root = tmpl;
        dir = root / "out";
        outside = root / "outside";
        fs::create_directory(dir);
        fs::create_directory(outside);
        std::ofstream(outside / "victim", std::ios::binary) << "victim bytes";
    }
    ~Tree() {
        std::error_code ec;
        fs::permissions(root, fs::perms::owner_all, fs::perm_options::add, ec);
        fs::permissions(dir, fs::perms::owner_all, fs::perm_options::add, ec);
        fs::remove_all(root, ec);  // never follows symlinks
    }
    Tree(const Tree&) = delete;
    Tree& operator=(const Tree&) = delete;

    ExtractOptions options() const {
        ExtractOptions opts;
        opts.dir = dir.string();
        return opts;
    }
};

std::string slurp(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// Every entry under `top` (not following symlinks) except the `skip` subtree:
// its type, and its bytes or symlink target.
std::map<std::string, std::string> snapshot(const fs::path& top, const fs::path& skip) {
    std::map<std::string, std::string> out;
    for (auto it = fs::recursive_directory_iterator(top); it != fs::recursive_directory_iterator();
         ++it) {
        const fs::path& p = it->path();
        if (p == skip) {
            it.disable_recursion_pending();
            continue;
        }
        const auto st = it->symlink_status();
        if (fs::is_symlink(st)) {
            out[p.string()] = "link:" + fs::read_symlink(p).string();
        } else if (fs::is_regular_file(st)) {
            out[p.string()] = "file:" + slurp(p);
        } else {
            out[p.string()] = "other";
        }
    }
    return out;
}

std::vector<std::string> entries(const fs::path& dir) {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(dir)) {
        out.push_back(e.path().filename().string());
    }
    std::sort(out.begin(), out.end());
    return out;
}

std::vector<std::uint8_t> bytes_of(std::string_view s) {
    return std::vector<std::uint8_t>(s.begin(), s.end());
}

// One whole body through begin/write/finish; returns the kept name.
std::string extract(FileExtractor& fx, std::string_view name, std::string_view body,
                    bool complete = true) {
    std::string refusal;
    const int h = fx.begin(name, body.size(), refusal);
    REQUIRE(h >= 0);
    REQUIRE(refusal.empty());
    const auto data = bytes_of(body);
    // Odd chunks, so no write lines up with anything.
    for (std::size_t off = 0; off < data.size(); off += 7) {
        REQUIRE(fx.write(h, data.data() + off, std::min<std::size_t>(7, data.size() - off)));
    }
    return fx.finish(h, complete, refusal);
}

bool valid_utf8(std::string_view s) {
    for (std::size_t i = 0; i < s.size();) {
        const auto b = static_cast<std::uint8_t>(s[i]);
        std::size_t len = b < 0x80 ? 1 : b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : b >= 0xC0 ? 2 : 0;
        if (len == 0 || i + len > s.size()) return false;
        std::uint32_t cp = len == 1 ? b : b & (0x7F >> len);
        for (std::size_t k = 1; k < len; ++k) {
            const auto c = static_cast<std::uint8_t>(s[i + k]);
            if ((c & 0xC0) != 0x80) return false;
            cp = (cp << 6) | (c & 0x3F);
        }
        const std::uint32_t min[] = {0, 0, 0x80, 0x800, 0x10000};
        if (cp < min[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
        i += len;
    }
    return true;
}

bool has_temp_file(const fs::path& dir) {
    for (const auto& name : entries(dir)) {
        if (name.rfind(".wirelens-", 0) == 0) return true;
    }
    return false;
}

// Runs `child` in a forked process; its exit status (77: could not set up).
template <class F>
int in_child(F child) {
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) ::_exit(child());
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace

// --- safe_file_name ---

TEST_CASE("safe_file_name keeps only the part after the last / or \\", "[extract]") {
    CHECK(safe_file_name("../../etc/passwd", 1) == "passwd");
    CHECK(safe_file_name("/etc/passwd", 1) == "passwd");
    CHECK(safe_file_name("C:\\x\\y.txt", 1) == "y.txt");
    CHECK(safe_file_name("..\\..\\Windows\\win.ini", 1) == "win.ini");
    CHECK(safe_file_name("a/b\\c/d.txt", 1) == "d.txt");
    CHECK(safe_file_name("\\\\server\\share\\f.doc", 1) == "f.doc");
    CHECK(safe_file_name("report.pdf", 1) == "report.pdf");
    CHECK(safe_file_name("with space.txt", 1) == "with space.txt");
}

TEST_CASE("safe_file_name gives empty, dot and space names upload-N.bin", "[extract]") {
    for (const char* name :
         {"", ".", "..", "...", " ", "  ", ". .", "dir/", "a/..", "a\\.", "/", "\\", "../.."}) {
        INFO(name);
        CHECK(safe_file_name(name, 7) == "upload-7.bin");
    }
    CHECK(safe_file_name("", 12345) == "upload-12345.bin");
}

TEST_CASE("safe_file_name replaces NUL and control characters", "[extract]") {
    CHECK(safe_file_name("a\0b.txt"s, 1) == "a_b.txt");
    CHECK(safe_file_name("\0"s, 1) == "_");
    CHECK(safe_file_name("passwd\0.jpg"s, 1) == "passwd_.jpg");
    CHECK(safe_file_name("a\nb\tc\rd\x7f", 1) == "a_b_c_d_");
    CHECK(safe_file_name("\x1b[31mred\x1b[0m.txt", 1) == "_[31mred_[0m.txt");
    CHECK(safe_file_name("\x01\x1f", 1) == "__");
    CHECK(safe_file_name("c1\xc2\x9b"
                         "2J.txt",
                         1) == "c1_2J.txt");                         // U+009B, CSI
    CHECK(safe_file_name("nbsp\xc2\xa0ok", 1) == "nbsp\xc2\xa0ok");  // U+00A0 is printable
}

TEST_CASE("safe_file_name replaces bidirectional overrides", "[extract]") {
    // "evil<U+202E>fdp.exe" displays as "evilexe.pdf".
    CHECK(safe_file_name("evil\xe2\x80\xae"
                         "fdp.exe",
                         1) == "evil_fdp.exe");
    CHECK(safe_file_name("a\xe2\x81\xa6"
                         "b\xe2\x80\x8f"
                         "c\xe2\x80\xa8"
                         "d",
                         1) == "a_b_c_d");
    CHECK(safe_file_name("dash\xe2\x80\x94ok", 1) == "dash\xe2\x80\x94ok");  // U+2014 stays
}

TEST_CASE("safe_file_name replaces invalid UTF-8 bytes and keeps valid text", "[extract]") {
    CHECK(safe_file_name("\xff\xfe.txt", 1) == "__.txt");
    CHECK(safe_file_name("over\xc0\xaflong", 1) == "over__long");         // overlong '/'
    CHECK(safe_file_name("sur\xed\xa0\x80rogate", 1) == "sur___rogate");  // U+D800
    CHECK(safe_file_name("cut\xe2\x82", 1) == "cut__");
    CHECK(safe_file_name("big\xf4\x90\x80\x80", 1) == "big____");  // above U+10FFFF
    CHECK(safe_file_name("\x80\x80x", 1) == "__x");
    CHECK(safe_file_name("latin1 r\xe9sum\xe9.pdf", 1) == "latin1 r_sum_.pdf");
    CHECK(safe_file_name("r\xc3\xa9sum\xc3\xa9.pdf", 1) == "r\xc3\xa9sum\xc3\xa9.pdf");
    CHECK(safe_file_name("\xe6\x97\xa5\xe6\x9c\xac.txt", 1) == "\xe6\x97\xa5\xe6\x9c\xac.txt");
    CHECK(safe_file_name("\xf0\x9f\x98\x80.png", 1) == "\xf0\x9f\x98\x80.png");
}

TEST_CASE("safe_file_name replaces a leading dot", "[extract]") {
    CHECK(safe_file_name(".bashrc", 1) == "_bashrc");
    CHECK(safe_file_name("..hidden", 1) == "_.hidden");
    CHECK(safe_file_name("/home/u/.ssh/authorized_keys", 1) == "authorized_keys");
    CHECK(safe_file_name("x/.profile", 1) == "_profile");
    CHECK(safe_file_name(".wirelens-1-1.tmp", 1) == "_wirelens-1-1.tmp");
    CHECK(safe_file_name("a.b", 1) == "a.b");
}

TEST_CASE("safe_file_name caps the length on a character boundary", "[extract]") {
    const std::string long_ascii(10000, 'a');
    CHECK(safe_file_name(long_ascii, 1) == std::string(200, 'a'));

    std::string out = safe_file_name(long_ascii + ".txt", 1);
    CHECK(out.size() == 200);
    CHECK(out == std::string(196, 'a') + ".txt");

    // 3-byte characters: 196 bytes of room holds 65 of them (195 bytes).
    std::string cjk;
    for (int i = 0; i < 4000; ++i) {
        cjk += "\xe6\x97\xa5";
    }
    out = safe_file_name(cjk + ".txt", 1);
    CHECK(out.size() == 199);
    CHECK(valid_utf8(out));
    CHECK(out.substr(out.size() - 4) == ".txt");

    // 4-byte characters, no extension.
    std::string emoji;
    for (int i = 0; i < 2500; ++i) {
        emoji += "\xf0\x9f\x98\x80";
    }
    out = safe_file_name(emoji, 1);
    CHECK(out.size() == 200);
    CHECK(valid_utf8(out));

    // Too long to be an extension: cut like any other text.
    out = safe_file_name("a." + std::string(300, 'b'), 1);
    CHECK(out == "a." + std::string(198, 'b'));

    // Under the cap: untouched.
    const std::string exact(200, 'c');
    CHECK(safe_file_name(exact, 1) == exact);
}

TEST_CASE("safe_file_name never ends in the reserved .partial", "[extract]") {
    CHECK(safe_file_name("x.partial", 1) == "x.partial_");
    CHECK(safe_file_name("X.PARTIAL", 1) == "X.PARTIAL_");
    CHECK(safe_file_name("dir/a.b.Partial", 1) == "a.b.Partial_");
    CHECK(safe_file_name(".partial", 1) == "_partial");
    CHECK(safe_file_name("x.partials", 1) == "x.partials");

    std::string out = safe_file_name(std::string(300, 'a') + ".partial", 1);
    CHECK(out.size() == 200);
    CHECK(out == std::string(191, 'a') + ".partial_");

    // The cap itself lands on ".partial".
    out = safe_file_name(std::string(192, 'a') + ".partial" + std::string(100, 'b'), 1);
    CHECK(out.size() <= 200);
    CHECK(out.substr(out.size() - 9) == ".partial_");
}

TEST_CASE("safe_file_name on random bytes: always safe and a fixed point", "[extract]") {
    std::mt19937 rng(20240601);
    std::uniform_int_distribution<int> byte(0, 255), len(0, 400), pick(0, 9);
    const char alphabet[] = "./\\ .a\0\xc3\xe2\x80";
    for (int iter = 0; iter < 5000; ++iter) {
        std::string name(static_cast<std::size_t>(len(rng)), '\0');
        for (char& c : name) {
            // Bias towards the interesting bytes.
            c = pick(rng) < 5 ? alphabet[pick(rng)] : static_cast<char>(byte(rng));
        }
        const std::string out = safe_file_name(name, 3);
        INFO("iteration " << iter);
        REQUIRE(!out.empty());
        REQUIRE(out.size() <= 200);
        REQUIRE(out[0] != '.');
        REQUIRE(out.find_first_of("/\\"s + '\0') == std::string::npos);
        REQUIRE(valid_utf8(out));
        for (char c : out) {
            REQUIRE((static_cast<std::uint8_t>(c) >= 0x20 && c != 0x7f));
        }
        REQUIRE(out.find("\xe2\x80\xae") == std::string::npos);
        REQUIRE_FALSE((out.size() >= 8 && out.substr(out.size() - 8) == ".partial"));
        REQUIRE(safe_file_name(out, 3) == out);
    }
}

// --- FileExtractor::open ---

TEST_CASE("FileExtractor::open refuses a missing, non-folder or empty DIR", "[extract]") {
    Tree tree;
    FileExtractor fx;
    std::string error;
    ExtractOptions opts = tree.options();

    opts.dir = (tree.root / "missing").string();
    CHECK_FALSE(fx.open(opts, error));
    CHECK(error.find("no such directory") != std::string::npos);
    CHECK(error.find('\n') == std::string::npos);
    CHECK_FALSE(fs::exists(tree.root / "missing"));  // not created

    opts.dir = (tree.outside / "victim").string();
    CHECK_FALSE(fx.open(opts, error));
    CHECK(error.find("not a directory") != std::string::npos);

    opts.dir = "";
    CHECK_FALSE(fx.open(opts, error));
    CHECK(!error.empty());

    std::string refusal;
    CHECK(fx.begin("a", 1, refusal) == -1);
    CHECK(refusal == "not_open");

    opts = tree.options();
    CHECK(fx.open(opts, error));
    CHECK(error.empty());

    // A symlink to a folder, given by the user, is the user's choice.
    fs::create_directory_symlink(tree.dir, tree.root / "link-to-out");
    opts.dir = (tree.root / "link-to-out").string();
    FileExtractor via_link;
    CHECK(via_link.open(opts, error));
    CHECK(extract(via_link, "f.txt", "x") == "f.txt");
    CHECK(slurp(tree.dir / "f.txt") == "x");
}

TEST_CASE("FileExtractor::open refuses a DIR it cannot write", "[extract]") {
    Tree tree;
    fs::permissions(tree.root,
                    fs::perms::owner_all | fs::perms::others_read | fs::perms::others_exec);
    fs::permissions(tree.dir,
                    fs::perms::owner_all | fs::perms::others_read | fs::perms::others_exec);
    const ExtractOptions opts = tree.options();
    const int status = in_child([&] {
        // Root writes anywhere: drop to nobody for the test.
        if (::geteuid() == 0 && (::setgid(65534) != 0 || ::setuid(65534) != 0)) return 77;
        if (::geteuid() != 0) ::chmod(opts.dir.c_str(), 0555);
        FileExtractor fx;
        std::string error;
        if (fx.open(opts, error)) return 1;
        return error.find("not writable") != std::string::npos ? 0 : 2;
    });
    if (status == 77) WARN("could not drop privileges; not-writable case not run");
    CHECK((status == 0 || status == 77));
}

// --- FileExtractor bodies ---

TEST_CASE("FileExtractor writes a body under its name, via a temporary file", "[extract]") {
    Tree tree;
    FileExtractor fx;
    std::string error, refusal;
    REQUIRE(fx.open(tree.options(), error));

    const std::string body = "%PDF-1.7 hello\n"s + '\0' + "\xff binary";
    const int h = fx.begin("report.pdf", body.size(), refusal);
    REQUIRE(h >= 0);
    CHECK(fx.open_files() == 1);
    const auto data = bytes_of(body);
    REQUIRE(fx.write(h, data.data(), 5));

    // While streaming only the temporary name exists.
    auto names = entries(tree.dir);
    REQUIRE(names.size() == 1);
    CHECK(names[0].rfind(".wirelens-" + std::to_string(::getpid()) + "-", 0) == 0);
    CHECK(names[0].substr(names[0].size() - 4) == ".tmp");
    const mode_t mask = ::umask(0);
    ::umask(mask);
    struct stat st {};
    REQUIRE(::lstat((tree.dir / names[0]).c_str(), &st) == 0);
    CHECK(S_ISREG(st.st_mode));
    CHECK((st.st_mode & 07777) == (0644 & ~mask));

    REQUIRE(fx.write(h, data.data() + 5, data.size() - 5));
    REQUIRE(fx.write(h, data.data(), 0));
    CHECK(fx.finish(h, true, refusal) == "report.pdf");
    CHECK(refusal.empty());
    CHECK(fx.open_files() == 0);
    CHECK(entries(tree.dir) == std::vector<std::string>{"report.pdf"});
    CHECK(slurp(tree.dir / "report.pdf") == body);

    // Empty bodies are files too.
    CHECK(extract(fx, "empty.txt", "") == "empty.txt");
    CHECK(fs::file_size(tree.dir / "empty.txt") == 0);
}

TEST_CASE("FileExtractor keeps hostile names inside DIR", "[extract]") {
    Tree tree;
    const auto passwd_before = slurp("/etc/passwd");
    const auto outside_before = snapshot(tree.root, tree.dir);
    const std::string absolute = (tree.root / "pwned-absolute").string();
    FileExtractor fx;
    std::string error;
    REQUIRE(fx.open(tree.options(), error));

    CHECK(extract(fx, "../../etc/passwd", "1") == "passwd");
    CHECK(extract(fx, "../pwned", "2") == "pwned");
    CHECK(extract(fx, "..\\pwned-win", "3") == "pwned-win");
    CHECK(extract(fx, absolute, "4") == "pwned-absolute");
    CHECK(extract(fx, "C:\\Windows\\System32\\drivers\\etc\\hosts", "5") == "hosts");
    CHECK(extract(fx, "/etc/passwd", "6") == "passwd-1");
    CHECK(extract(fx, "../outside/victim", "7") == "victim");
    CHECK(extract(fx, "nul\0/../../x"s, "8") == "x");
    CHECK(extract(fx, "nul\0byte.txt"s, "9") == "nul_byte.txt");
    CHECK(extract(fx, "", "10") == "upload-10.bin");
    CHECK(extract(fx, "..", "11") == "upload-11.bin");
    CHECK(extract(fx, "\xff\xfe\xfd", "12") == "___");
    CHECK(extract(fx, ".bashrc", "13") == "_bashrc");
    const std::string kept = extract(fx, std::string(10000, 'L') + ".log", "14");
    CHECK(kept == std::string(196, 'L') + ".log");

    CHECK(snapshot(tree.root, tree.dir) == outside_before);
    CHECK(slurp("/etc/passwd") == passwd_before);
    CHECK_FALSE(fs::exists(tree.root / "pwned"));
    CHECK_FALSE(fs::exists(tree.root / "x"));
    CHECK(slurp(tree.dir / "passwd") == "1");
    CHECK(slurp(tree.dir / "pwned") == "2");
    CHECK(slurp(tree.dir / "pwned-win") == "3");
    CHECK(slurp(tree.dir / "pwned-absolute") == "4");
    CHECK(slurp(tree.dir / "hosts") == "5");
    CHECK(slurp(tree.dir / "passwd-1") == "6");
    CHECK(slurp(tree.dir / "victim") == "7");
    CHECK(slurp(tree.dir / "x") == "8");
    CHECK(slurp(tree.dir / "nul_byte.txt") == "9");
    CHECK(slurp(tree.dir / "upload-10.bin") == "10");
    CHECK(slurp(tree.dir / "upload-11.bin") == "11");
    CHECK(slurp(tree.dir / "___") == "12");
    CHECK(slurp(tree.dir / "_bashrc") == "13");
    CHECK(slurp(tree.dir / kept) == "14");
    CHECK(entries(tree.dir).size() == 14);
}

TEST_CASE("FileExtractor never touches what already has the name", "[extract]") {
    Tree tree;
    const auto passwd_before = slurp("/etc/passwd");
    std::ofstream(tree.dir / "a.txt", std::ios::binary) << "old a";
    fs::create_symlink("/etc/passwd", tree.dir / "b.txt");
    fs::create_symlink(tree.outside / "victim", tree.dir / "c.txt");
    fs::create_symlink(tree.outside / "dangling-target", tree.dir / "d.txt");
    fs::create_symlink("../outside/relative-dangling", tree.dir / "e.txt");
    fs::create_directory(tree.dir / "f.txt");
    std::ofstream(tree.dir / "g", std::ios::binary) << "old g";
    const auto before = snapshot(tree.dir, {});
    const auto outside_before = snapshot(tree.root, tree.dir);

    FileExtractor fx;
    std::string error;
    REQUIRE(fx.open(tree.options(), error));
    CHECK(extract(fx, "a.txt", "new a") == "a-1.txt");
    CHECK(extract(fx, "b.txt", "new b") == "b-1.txt");
    CHECK(extract(fx, "c.txt", "new c") == "c-1.txt");
    CHECK(extract(fx, "d.txt", "new d") == "d-1.txt");
    CHECK(extract(fx, "e.txt", "new e") == "e-1.txt");
    CHECK(extract(fx, "f.txt", "new f") == "f-1.txt");
    CHECK(extract(fx, "g", "new g") == "g-1");

    // Everything planted is as it was; nothing appeared outside DIR.
    auto after = snapshot(tree.dir, {});
    for (const auto& [path, what] : before) {
        INFO(path);
        CHECK(after[path] == what);
    }
    CHECK(snapshot(tree.root, tree.dir) == outside_before);
    CHECK(slurp("/etc/passwd") == passwd_before);
    CHECK(slurp(tree.outside / "victim") == "victim bytes");
    CHECK_FALSE(fs::exists(fs::symlink_status(tree.outside / "dangling-target")));
    CHECK_FALSE(fs::exists(fs::symlink_status(tree.outside / "relative-dangling")));
    CHECK(fs::is_empty(tree.dir / "f.txt"));
    for (const char* name : {"a-1.txt", "b-1.txt", "c-1.txt", "d-1.txt", "e-1.txt", "f-1.txt"}) {
        INFO(name);
        CHECK(fs::is_regular_file(fs::symlink_status(tree.dir / name)));
        CHECK(slurp(tree.dir / name) == "new "s + name[0]);
    }
    CHECK(slurp(tree.dir / "g-1") == "new g");
}

TEST_CASE("FileExtractor numbers collisions before the extension", "[extract]") {
    Tree tree;
    std::ofstream(tree.dir / "h.tar.gz", std::ios::binary) << "old";
    std::ofstream(tree.dir / "h.tar-1.gz", std::ios::binary) << "old 1";
    fs::create_symlink("/nonexistent", tree.dir / "h.tar-2.gz");
    FileExtractor fx;
    std::string error;
    REQUIRE(fx.open(tree.options(), error));

    CHECK(extract(fx, "h.tar.gz", "mine") == "h.tar-3.gz");
    CHECK(slurp(tree.dir / "h.tar.gz") == "old");
    CHECK(slurp(tree.dir / "h.tar-1.gz") == "old 1");
    CHECK(fs::is_symlink(tree.dir / "h.tar-2.gz"));
    CHECK(slurp(tree.dir / "h.tar-3.gz") == "mine");

    for (int i = 0; i < 50; ++i) {
        const std::string expect = i == 0 ? "same.bin" : "same-" + std::to_string(i) + ".bin";
        CHECK(extract(fx, "x/same.bin", "body " + std::to_string(i)) == expect);
    }
    for (int i = 0; i < 50; ++i) {
        const std::string name = i == 0 ? "same.bin" : "same-" + std::to_string(i) + ".bin";
        CHECK(slurp(tree.dir / name) == "body " + std::to_string(i));
    }
    // Unnamed bodies collide too.
    std::ofstream(tree.dir / "upload-52.bin", std::ios::binary) << "old";
    CHECK(extract(fx, "", "u") == "upload-52-1.bin");
    CHECK(extract(fx, "reserved.partial", "r") == "reserved.partial_");
    CHECK(extract(fx, "reserved.partial", "r2") == "reserved-1.partial_");
    CHECK_FALSE(has_temp_file(tree.dir));
}

TEST_CASE("FileExtractor never follows a symlink planted at its temporary name", "[extract]") {
    Tree tree;
    FileExtractor fx;
    std::string error, refusal;
    REQUIRE(fx.open(tree.options(), error));

    // Learn the numbering from one body, then plant the next names.
    int h = fx.begin("probe", 1, refusal);
    REQUIRE(h >= 0);
    const std::string temp = entries(tree.dir).at(0);
    fx.finish(h, false, refusal);
    const std::string prefix = ".wirelens-" + std::to_string(::getpid()) + "-";
    const auto n = std::stoull(temp.substr(prefix.size()));
    for (unsigned long long k = n + 1; k <= n + 5; ++k) {
        const fs::path planted = tree.dir / (prefix + std::to_string(k) + ".tmp");
        if (k % 2 == 0) {
            fs::create_symlink(tree.outside / "victim", planted);
        } else {
            fs::create_symlink(tree.outside / (std::string("dangling").append(std::to_string(k))),
                               planted);
        }
    }
    const auto outside_before = snapshot(tree.root, tree.dir);
    CHECK(extract(fx, "real.bin", "real") == "real.bin");
    CHECK(slurp(tree.dir / "real.bin") == "real");
    CHECK(snapshot(tree.root, tree.dir) == outside_before);
    CHECK(slurp(tree.outside / "victim") == "victim bytes");
    CHECK(entries(tree.dir).size() == 6);  // the five planted links and real.bin
}

TEST_CASE("FileExtractor keeps or removes incomplete bodies", "[extract]") {
    Tree tree;
    std::string error, refusal;

    SECTION("removed by default") {
        FileExtractor fx;
        REQUIRE(fx.open(tree.options(), error));
        const int h = fx.begin("cut.pdf", 100, refusal);
        REQUIRE(h >= 0);
        const auto data = bytes_of("half");
        REQUIRE(fx.write(h, data.data(), data.size()));
        CHECK(fx.finish(h, false, refusal).empty());
        CHECK(refusal == "incomplete");
        CHECK(fs::is_empty(tree.dir));
    }
    SECTION("kept as NAME.partial with --extract-partial") {
        ExtractOptions opts = tree.options();
        opts.keep_partial = true;
        FileExtractor fx;
        REQUIRE(fx.open(opts, error));
        CHECK(extract(fx, "cut.pdf", "half", false) == "cut.pdf.partial");
        CHECK(slurp(tree.dir / "cut.pdf.partial") == "half");
        // A second cut body of the same name, and a complete one.
        CHECK(extract(fx, "cut.pdf", "again", false) == "cut-1.pdf.partial");
        CHECK(extract(fx, "cut.pdf", "whole") == "cut.pdf");
        // A planted cut.txt.partial symlink is left alone.
        fs::create_symlink(tree.outside / "victim", tree.dir / "cut.txt.partial");
        CHECK(extract(fx, "cut.txt", "t", false) == "cut-1.txt.partial");
        CHECK(slurp(tree.outside / "victim") == "victim bytes");
        CHECK(slurp(tree.dir / "cut-1.txt.partial") == "t");
        CHECK(slurp(tree.dir / "cut-1.pdf.partial") == "again");
        CHECK(slurp(tree.dir / "cut.pdf") == "whole");
        CHECK_FALSE(has_temp_file(tree.dir));
    }
}

TEST_CASE("FileExtractor refuses bodies larger than --extract-max", "[extract]") {
    Tree tree;
    ExtractOptions opts = tree.options();
    opts.max_size = 10;
    FileExtractor fx;
    std::string error, refusal;
    REQUIRE(fx.open(opts, error));

    CHECK(fx.begin("big.bin", 11, refusal) == -1);
    CHECK(refusal == "too_large");
    CHECK(fs::is_empty(tree.dir));
    CHECK(fx.open_files() == 0);

    CHECK(extract(fx, "fits.bin", "0123456789") == "fits.bin");

    // A body that lied about its size is cut off once past the limit.
    const int h = fx.begin("liar.bin", 4, refusal);
    REQUIRE(h >= 0);
    const auto data = bytes_of("0123456789A");
    CHECK(fx.write(h, data.data(), 6));
    CHECK_FALSE(fx.write(h, data.data() + 6, 5));
    CHECK_FALSE(has_temp_file(tree.dir));  // removed at once
    CHECK_FALSE(fx.write(h, data.data(), 1));
    CHECK(fx.finish(h, true, refusal).empty());
    CHECK(refusal == "too_large");
    CHECK(entries(tree.dir) == std::vector<std::string>{"fits.bin"});
}

TEST_CASE("FileExtractor refuses a body the file system has no room for", "[extract]") {
    Tree tree;
    ExtractOptions opts = tree.options();
    opts.max_size = std::numeric_limits<std::uint64_t>::max();
    FileExtractor fx;
    std::string error, refusal;
    REQUIRE(fx.open(opts, error));
    CHECK(fx.begin("huge.iso", 1ull << 62, refusal) == -1);
    CHECK(refusal == "no_space");
    CHECK(fs::is_empty(tree.dir));
}

TEST_CASE("FileExtractor removes the file on a write error", "[extract]") {
    Tree tree;
    FileExtractor fx;
    std::string error, refusal;
    REQUIRE(fx.open(tree.options(), error));
    const int h = fx.begin("limited.bin", 8192, refusal);
    REQUIRE(h >= 0);

    // RLIMIT_FSIZE makes write() fail with EFBIG past 4 KiB.
    rlimit old{};
    REQUIRE(::getrlimit(RLIMIT_FSIZE, &old) == 0);
    auto* old_handler = ::signal(SIGXFSZ, SIG_IGN);
    rlimit small = old;
    small.rlim_cur = 4096;
    REQUIRE(::setrlimit(RLIMIT_FSIZE, &small) == 0);
    const std::vector<std::uint8_t> data(8192, 0x5a);
    const bool ok = fx.write(h, data.data(), data.size());
    ::setrlimit(RLIMIT_FSIZE, &old);
    ::signal(SIGXFSZ, old_handler);

    CHECK_FALSE(ok);
    CHECK(fs::is_empty(tree.dir));
    CHECK_FALSE(fx.write(h, data.data(), 1));
    CHECK(fx.finish(h, true, refusal).empty());
    CHECK(refusal == "io_error");
    CHECK(fx.open_files() == 0);
    CHECK(extract(fx, "after.bin", "fine") == "after.bin");
}

TEST_CASE("FileExtractor reports no_space when the disk fills up", "[extract]") {
    Tree tree;
    const std::string dir = tree.dir.string();
    // A 64 KiB tmpfs over DIR, in a mount namespace of a child's own.
    const int status = in_child([&] {
        if (::unshare(CLONE_NEWNS) != 0) return 77;
        if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) return 77;
        if (::mount("tmpfs", dir.c_str(), "tmpfs", 0, "size=64k") != 0) return 77;
        FileExtractor fx;
        std::string error, refusal;
        if (!fx.open(ExtractOptions{dir, false, 1ull << 30, 64}, error)) return 1;
        const int h = fx.begin("fill.bin", 0, refusal);
        if (h < 0) return 2;
        const std::vector<std::uint8_t> chunk(4096, 1);
        int writes = 0;
        while (fx.write(h, chunk.data(), chunk.size())) {
            if (++writes > 1000) return 3;
        }
        if (!fx.finish(h, true, refusal).empty() || refusal != "no_space") return 4;
        if (!fs::is_empty(dir)) return 5;
        // The space is back: a small body fits again.
        const int again = fx.begin("small.bin", 1, refusal);
        if (again < 0 || !fx.write(again, chunk.data(), 1)) return 6;
        if (fx.finish(again, true, refusal) != "small.bin") return 7;
        return 0;
    });
    if (status == 77) WARN("no mount namespace here; ENOSPC case not run");
    CHECK((status == 0 || status == 77));
    CHECK(fs::is_empty(tree.dir));
}

TEST_CASE("FileExtractor bounds the files open at once", "[extract]") {
    Tree tree;
    FileExtractor fx;
    std::string error, refusal;
    REQUIRE(fx.open(tree.options(), error));
    std::vector<int> handles;
    for (int i = 0; i < 64; ++i) {
        const int h = fx.begin(std::string("f").append(std::to_string(i)), 1, refusal);
        REQUIRE(h >= 0);
        handles.push_back(h);
    }
    CHECK(fx.open_files() == 64);
    CHECK(fx.begin("one-too-many", 1, refusal) == -1);
    CHECK(refusal == "too_many_open");
    CHECK(entries(tree.dir).size() == 64);

    CHECK(fx.finish(handles[10], true, refusal) == "f10");
    CHECK(fx.open_files() == 63);
    const int h = fx.begin("room-again", 1, refusal);
    CHECK(h >= 0);
    CHECK(refusal.empty());

    ExtractOptions two = tree.options();
    two.max_open_files = 2;
    FileExtractor small;
    REQUIRE(small.open(two, error));
    CHECK(small.begin("a", 1, refusal) >= 0);
    CHECK(small.begin("b", 1, refusal) >= 0);
    CHECK(small.begin("c", 1, refusal) == -1);
    CHECK(refusal == "too_many_open");
}

TEST_CASE("FileExtractor rejects unknown and finished handles", "[extract]") {
    Tree tree;
    FileExtractor fx;
    std::string error, refusal;
    REQUIRE(fx.open(tree.options(), error));
    const std::uint8_t b = 1;
    CHECK_FALSE(fx.write(-1, &b, 1));
    CHECK_FALSE(fx.write(0, &b, 1));
    CHECK_FALSE(fx.write(1 << 20, &b, 1));
    CHECK(fx.finish(-1, true, refusal).empty());
    CHECK(refusal == "bad_handle");
    const int h = fx.begin("once", 1, refusal);
    REQUIRE(h >= 0);
    CHECK(fx.finish(h, true, refusal) == "once");
    CHECK(fx.finish(h, true, refusal).empty());
    CHECK(refusal == "bad_handle");
    CHECK_FALSE(fx.write(h, &b, 1));
}

TEST_CASE("FileExtractor's destructor removes unfinished temporary files", "[extract]") {
    Tree tree;
    std::ofstream(tree.dir / "keep.me", std::ios::binary) << "mine";
    {
        FileExtractor fx;
        std::string error, refusal;
        REQUIRE(fx.open(tree.options(), error));
        const auto data = bytes_of("streaming");
        for (int i = 0; i < 3; ++i) {
            const int h = fx.begin(std::string("u").append(std::to_string(i)), 100, refusal);
            REQUIRE(h >= 0);
            REQUIRE(fx.write(h, data.data(), data.size()));
        }
        CHECK(extract(fx, "done.txt", "done") == "done.txt");
        CHECK(entries(tree.dir).size() == 5);
        CHECK(fx.open_files() == 3);
    }
    CHECK(entries(tree.dir) == std::vector<std::string>{"done.txt", "keep.me"});

    // Opening again drops unfinished bodies the same way.
    FileExtractor fx;
    std::string error, refusal;
    REQUIRE(fx.open(tree.options(), error));
    REQUIRE(fx.begin("pending", 1, refusal) >= 0);
    CHECK(has_temp_file(tree.dir));
    REQUIRE(fx.open(tree.options(), error));
    CHECK(fx.open_files() == 0);
    CHECK_FALSE(has_temp_file(tree.dir));
}

#if defined(__SANITIZE_ADDRESS__)
extern "C" int __sanitizer_install_malloc_and_free_hooks(void (*malloc_hook)(const volatile void*,
                                                                             std::size_t),
                                                         void (*free_hook)(const volatile void*));
namespace {
std::atomic<long> g_allocations{0};
void count_allocation(const volatile void*, std::size_t) {
    ++g_allocations;
}
void ignore_free(const volatile void*) {}
}  // namespace
#endif

TEST_CASE("FileExtractor::write does not allocate", "[extract]") {
#if defined(__SANITIZE_ADDRESS__)
    static const bool hooked =
        __sanitizer_install_malloc_and_free_hooks(count_allocation, ignore_free) != 0;
    REQUIRE(hooked);
    Tree tree;
    FileExtractor fx;
    std::string error, refusal;
    REQUIRE(fx.open(tree.options(), error));
    const int h = fx.begin("stream.bin", 1 << 20, refusal);
    REQUIRE(h >= 0);
    const std::vector<std::uint8_t> chunk(1024, 7);
    const long before = g_allocations.load();
    bool ok = true;
    for (int i = 0; i < 1000; ++i) {
        ok = fx.write(h, chunk.data(), chunk.size()) && ok;
    }
    const long after = g_allocations.load();
    CHECK(ok);
    CHECK(after == before);
    CHECK(fx.finish(h, true, refusal) == "stream.bin");
    CHECK(fs::file_size(tree.dir / "stream.bin") == 1024u * 1000u);
#else
    WARN("allocation counting needs -fsanitize=address; build with WIRELENS_SANITIZE");
#endif
}
