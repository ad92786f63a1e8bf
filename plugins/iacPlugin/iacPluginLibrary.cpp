/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * The entry points of the plugin library, the only symbols it exports (iacPlugin.map):
 * getCreators, read by IPluginRegistry::loadLibrary and trtexec --dynamicPlugins, and
 * setLoggerFinder, through which TensorRT hands us its logger. The library does not also
 * register its creator statically: a creator registered twice makes loading fail.
 */
#include "iacPlugin.h"

#include <NvInferVersion.h>

#include <mutex>

// Which TensorRT the library was built against, as a string in the file: load_plugin() reads it
// without loading the library, to refuse a build for another major version with a clear message.
#define IFAN_STR2(x) #x
#define IFAN_STR(x) IFAN_STR2(x)
extern "C" __attribute__((used)) char const ifanIacBuildTag[]
    = "IFAN_IAC_TENSORRT_VERSION=" IFAN_STR(NV_TENSORRT_MAJOR) "." IFAN_STR(NV_TENSORRT_MINOR) "." IFAN_STR(
        NV_TENSORRT_PATCH);

namespace ifan
{
namespace iac
{
namespace
{

std::mutex gLoggerMutex;
nvinfer1::ILoggerFinder* gLoggerFinder{nullptr};

} // namespace

void logMessage(nvinfer1::ILogger::Severity severity, std::string const& message) noexcept
{
    try
    {
        std::lock_guard<std::mutex> lock(gLoggerMutex);
        nvinfer1::ILogger* logger = gLoggerFinder != nullptr ? gLoggerFinder->findLogger() : nullptr;
        if (logger != nullptr)
        {
            logger->log(severity, message.c_str());
        }
    }
    catch (...)
    {
        // logging must never take the caller down
    }
}

} // namespace iac
} // namespace ifan

extern "C" __attribute__((visibility("default"))) void setLoggerFinder(nvinfer1::ILoggerFinder* finder)
{
    std::lock_guard<std::mutex> lock(ifan::iac::gLoggerMutex);
    ifan::iac::gLoggerFinder = finder;
}

extern "C" __attribute__((visibility("default"))) nvinfer1::IPluginCreatorInterface* const* getCreators(
    int32_t& nbCreators)
{
    static ifan::iac::IacPluginCreator creator;
    static nvinfer1::IPluginCreatorInterface* const creators[] = {&creator};
    nbCreators = 1;
    return creators;
}
