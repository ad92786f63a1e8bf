/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * The C ABI of libifan_iac_cuda.so (iacCudaApi.h) over launchIac(), the launcher the plugin's
 * enqueue calls: same kernels, same checks. Its CPU twin, iacCpuApi.cpp, has the same ABI.
 */
#include "iacCudaApi.h"
#include "iacKernel.h"

#include <cuda_fp16.h>
#include <cuda_runtime_api.h>

namespace
{

using ifan::iac::Problem;

Problem problemOf(int32_t batch, int32_t channels, int32_t height, int32_t width, int32_t iterations, int32_t taps,
    int32_t mode, int32_t layout, float slope)
{
    return Problem{batch, channels, height, width, iterations, taps, mode, layout, slope};
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
    int32_t width, int32_t iterations, int32_t taps, int32_t mode, int32_t layout, float slope, void* stream)
{
    Problem const problem = problemOf(batch, channels, height, width, iterations, taps, mode, layout, slope);
    return static_cast<int32_t>(ifan::iac::launchIac<float>(
        problem, features, filters, out, workspace, workspace_bytes, static_cast<cudaStream_t>(stream)));
}

__attribute__((visibility("default"))) int32_t ifan_iac_run_half(uint16_t const* features, uint16_t const* filters,
    uint16_t* out, void* workspace, size_t workspace_bytes, int32_t batch, int32_t channels, int32_t height,
    int32_t width, int32_t iterations, int32_t taps, int32_t mode, int32_t layout, float slope, void* stream)
{
    Problem const problem = problemOf(batch, channels, height, width, iterations, taps, mode, layout, slope);
    // __half is a 2-byte struct of the same bits: the ABI speaks uint16_t so that C needs no cuda_fp16.h
    return static_cast<int32_t>(ifan::iac::launchIac<__half>(problem, reinterpret_cast<__half const*>(features),
        reinterpret_cast<__half const*>(filters), reinterpret_cast<__half*>(out), workspace, workspace_bytes,
        static_cast<cudaStream_t>(stream)));
}

__attribute__((visibility("default"))) char const* ifan_iac_error_name(int32_t status)
{
    return cudaGetErrorName(static_cast<cudaError_t>(status));
}

} // extern "C"
