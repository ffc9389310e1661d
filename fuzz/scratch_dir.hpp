// A private folder for the files a harness makes (carved upload bodies): created
// once under $WIRELENS_FUZZ_TMP (scripts/fuzz.sh points it into build/fuzz), else
// $TMPDIR or /tmp; emptied after every input, so that millions of runs leave
// nothing behind, and removed at exit (libFuzzer ends by exit()).
#pragma once

#include <dirent.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace wl::fuzz {

class ScratchDir {
  public:
    static ScratchDir& instance() {
        static ScratchDir dir;
        return dir;
    }
    const std::string& path() const { return path_; }

    // Removes every file in the folder (the extractor makes nothing else).
    void clear() const {
        DIR* d = opendir(path_.c_str());
        if (d == nullptr) return;
        while (const dirent* e = readdir(d)) {
            if (std::strcmp(e->d_name, ".") == 0 || std::strcmp(e->d_name, "..") == 0) continue;
            unlinkat(dirfd(d), e->d_name, 0);
        }
        closedir(d);
    }

  private:
    ScratchDir() {
        const char* base = std::getenv("WIRELENS_FUZZ_TMP");
        if (base == nullptr || *base == '\0') base = std::getenv("TMPDIR");
        if (base == nullptr || *base == '\0') base = "/tmp";
        std::string templ = std::string(base) + "/wirelens-fuzz-XXXXXX";
        if (mkdtemp(templ.data()) == nullptr) {
            std::perror("wirelens fuzz: cannot make a scratch folder");
            std::abort();
        }
        path_ = templ;
    }
    ~ScratchDir() {
        clear();
        rmdir(path_.c_str());
    }
    std::string path_;
};

}  // namespace wl::fuzz
