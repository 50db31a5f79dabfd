// Thread-safety annotations (clang's -Wthread-safety); no-ops on other compilers.
//
// GUARDED_BY(mu) on a member says it is read and written only with `mu` held; helpers that expect
// the lock held are named ...Locked() and annotated REQUIRES(mu). Header only, no state.
#pragma once

#if defined(__clang__)
#define BW_THREAD_ANNOTATION(x) __attribute__((x))
#else
#define BW_THREAD_ANNOTATION(x)
#endif

// Abseil (pulled in by grpc++) still exports its legacy unprefixed GUARDED_BY and PT_GUARDED_BY
// (absl/base/internal/thread_annotations.h) with the same meaning; ours replace them, without a
// redefinition warning, wherever this header comes after gRPC's (the gRPC-using files include
// <grpcpp/...> before the project's headers).
#undef GUARDED_BY
#undef PT_GUARDED_BY
#define GUARDED_BY(x) BW_THREAD_ANNOTATION(guarded_by(x))
#define PT_GUARDED_BY(x) BW_THREAD_ANNOTATION(pt_guarded_by(x))
#define REQUIRES(...) BW_THREAD_ANNOTATION(requires_capability(__VA_ARGS__))
#define EXCLUDES(...) BW_THREAD_ANNOTATION(locks_excluded(__VA_ARGS__))
