/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * libifan_iac_cpu.so, the CPU twin of libifan_iac_cuda.so: the same C ABI (iacCudaApi.h), the same
 * host code (runIac, iacLaunch.h: checks, workspace, plan, ping-pong) and the same tile phases
 * (iacTile.h), but each "launch" is the CPU emulation of every block (iacEmulate.h), on host
 * pointers, finished when the call returns (the stream argument is not used). Built with a plain
 * C++ compiler: the tests run the GPU library's cases through it on any machine.
 */
#include "iacCudaApi.h"
#include "iacEmulate.h"

namespace
{

using ifan::iac::HalfBits;
using ifan::iac::Problem;

Problem problemOf(int32_t batch, int32_t channels, int32_t height, int32_t width, int32_t iterations, int32_t taps,
    int32_t mode, int32_t layout, float slope)
{
    return Problem{batch, channels, height, width, iterations, taps, mode, layout, slope};
}

template <typename T>
int32_t run(T const* features, T const* filters, T* out, void* workspace, size_t workspaceBytes,
    Problem const& problem)
{
    ifan::iac::CpuRunner runner;
    return ifan::iac::runIac(problem, features, filters, out, workspace, workspaceBytes, runner);
}

} // namespace

extern "C"
{

__attribute__((visibility("default"))) int32_t ifan_iac_abi_version(void)
{
    return IFAN_IAC_ABI_VERSION;
}

__attribute__((visibility("default"))) size_t ifan_iac_workspace_bytes(
    int32_t batch, int32_t channels, int32_t height, int32_t width, int32_t iterations, size_t elem_bytes)
{
    return ifan::iac::abiWorkspaceBytes(batch, channels, height, width, iterations, elem_bytes);
}

__attribute__((visibility("default"))) int32_t ifan_iac_run_float(float const* features, float const* filters,
    float* out, void* workspace, size_t workspace_bytes, int32_t batch, int32_t channels, int32_t height,
    int32_t width, int32_t iterations, int32_t taps, int32_t mode, int32_t layout, float slope, void* /*stream*/)
{
    return run(features, filters, out, workspace, workspace_bytes,
        problemOf(batch, channels, height, width, iterations, taps, mode, layout, slope));
}

__attribute__((visibility("default"))) int32_t ifan_iac_run_half(uint16_t const* features, uint16_t const* filters,
    uint16_t* out, void* workspace, size_t workspace_bytes, int32_t batch, int32_t channels, int32_t height,
    int32_t width, int32_t iterations, int32_t taps, int32_t mode, int32_t layout, float slope, void* /*stream*/)
{
    // HalfBits is a struct of the same 16 bits, as __half is on the device
    return run(reinterpret_cast<HalfBits const*>(features), reinterpret_cast<HalfBits const*>(filters),
        reinterpret_cast<HalfBits*>(out), workspace, workspace_bytes,
        problemOf(batch, channels, height, width, iterations, taps, mode, layout, slope));
}

__attribute__((visibility("default"))) char const* ifan_iac_error_name(int32_t status)
{
    char const* name = ifan::iac::statusName(status);
    return name != nullptr ? name : "unrecognized error code"; // what cudaGetErrorName says
}

} // extern "C"
