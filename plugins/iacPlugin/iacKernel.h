/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Launcher of the IAC kernels. Knows nothing of TensorRT: raw pointers, sizes and a stream in,
 * the CUDA status out (a failed launch is reported, never swallowed).
 */
#ifndef IFAN_IAC_KERNEL_H
#define IFAN_IAC_KERNEL_H

#include <cstddef>
#include <cuda_fp16.h>
#include <cuda_runtime_api.h>

#include "iacLaunch.h"
#include "iacMath.h"

namespace ifan
{
namespace iac
{

//! All N iterations of the IAC, queued on stream: features [B, C, H, W] and filters
//! [B, Cf, H, W] to out [B, C, H, W], linear NCHW. workspace must hold workspaceBytes() (iacLaunch.h). No
//! allocation and no synchronisation; returns the first launch error (cudaGetLastError).
//! Instantiated for float and __half (FP16 accumulates in FP32).
template <typename T>
cudaError_t launchIac(Problem const& problem, T const* features, T const* filters, T* out, void* workspace,
    size_t workspaceSize, cudaStream_t stream);

extern template cudaError_t launchIac<float>(
    Problem const&, float const*, float const*, float*, void*, size_t, cudaStream_t);
extern template cudaError_t launchIac<__half>(
    Problem const&, __half const*, __half const*, __half*, void*, size_t, cudaStream_t);

} // namespace iac
} // namespace ifan

#endif // IFAN_IAC_KERNEL_H
