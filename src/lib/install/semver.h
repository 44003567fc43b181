/*
 * install/semver.h - moved to util/semver.h (release versions are compared
 * by the client's release choice too, below install in the layers). Kept
 * for pawl-repo until it uses the public pawl/semver.h or its publisher
 * tier (issue 17).
 */
#ifndef PAWL_INSTALL_SEMVER_H
#define PAWL_INSTALL_SEMVER_H
#include "util/semver.h"
#endif
