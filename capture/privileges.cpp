#include "capture/privileges.hpp"

#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace wl {

namespace {

// The process's capabilities (no libcap: two system calls are all it takes).
bool get_caps(__user_cap_data_struct (&data)[_LINUX_CAPABILITY_U32S_3]) {
    __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
    return syscall(SYS_capget, &hdr, data) == 0;
}

bool has_caps() {
    __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
    if (!get_caps(data)) return true;  // cannot tell: assume the worst
    for (const auto& d : data) {
        if (d.effective != 0 || d.permitted != 0 || d.inheritable != 0) return true;
    }
    return false;
}

bool clear_caps() {
    __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
    return syscall(SYS_capset, &hdr, data) == 0;
}

}  // namespace

bool drop_privileges(const std::string& user, std::string& error) {
    const std::string who = "-Z " + user;
    passwd pw{};
    passwd* found = nullptr;
    std::vector<char> buf(16384);
    int rc = 0;
    while ((rc = getpwnam_r(user.c_str(), &pw, buf.data(), buf.size(), &found)) == ERANGE) {
        buf.resize(buf.size() * 2);
    }
    if (found == nullptr) {
        error = rc == 0 || rc == ENOENT ? who + ": no such user"
                                        : who + ": cannot look the user up: " + std::strerror(rc);
        return false;
    }
    const uid_t uid = pw.pw_uid;
    const gid_t gid = pw.pw_gid;

    if (geteuid() != 0) {
        // Capture rights from file capabilities (setcap): keep the user, drop them.
        if (getuid() != uid || geteuid() != uid) {
            error = who + ": only root can change to another user";
            return false;
        }
        if (!clear_caps()) {
            error = who + ": cannot drop capabilities: " + std::strerror(errno);
            return false;
        }
    } else {
        if (initgroups(pw.pw_name, gid) != 0) {
            error = who + ": cannot set the user's groups: " + std::strerror(errno);
            return false;
        }
        if (setgid(gid) != 0) {
            error = who + ": cannot change to group " + std::to_string(gid) + ": " +
                    std::strerror(errno);
            return false;
        }
        if (setuid(uid) != 0) {
            error = who + ": cannot change to user " + std::to_string(uid) + ": " +
                    std::strerror(errno);
            return false;
        }
    }

    // Verify rather than trust: every id changed, and no way back.
    uid_t ru = 0, eu = 0, su = 0;
    gid_t rg = 0, eg = 0, sg = 0;
    if (getresuid(&ru, &eu, &su) != 0 || getresgid(&rg, &eg, &sg) != 0 || ru != uid || eu != uid ||
        su != uid || rg != gid || eg != gid || sg != gid) {
        error = who + ": the user or group did not fully change";
        return false;
    }
    if (uid != 0) {
        if (setuid(0) == 0 || seteuid(0) == 0) {
            error = who + ": root could be regained after changing user";
            return false;
        }
        if (has_caps() && (!clear_caps() || has_caps())) {
            error = who + ": capabilities remain after changing user";
            return false;
        }
    }
    return true;
}

}  // namespace wl
