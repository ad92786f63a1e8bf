// SPDX-License-Identifier: Apache-2.0
//
// Drives the plugin's build phase without TensorRT's library: creates IFAN_IAC through the
// library's getCreators (N=2, k=3, full layout), calls configurePlugin for FP16 features
// [-1, C, 8, 8] whose profile allows batch 1..maxBatch, and prints the status and every message
// the plugin logged through the logger handed over by setLoggerFinder.
//   configure_harness <C> <maxBatch>
#include <NvInferRuntime.h>

#include <cstdio>
#include <cstdlib>

extern "C" nvinfer1::IPluginCreatorInterface* const* getCreators(int32_t& nbCreators);
extern "C" void setLoggerFinder(nvinfer1::ILoggerFinder* finder);

using namespace nvinfer1;

namespace
{

class PrintLogger : public ILogger
{
public:
    void log(Severity severity, char const* message) noexcept override
    {
        std::printf("LOG %d %s\n", static_cast<int>(severity), message);
    }
};

class Finder : public ILoggerFinder
{
public:
    ILogger* findLogger() override
    {
        return &mLogger;
    }

private:
    PrintLogger mLogger;
};

Dims dims4(int64_t b, int64_t c)
{
    Dims d{};
    d.nbDims = 4;
    d.d[0] = b;
    d.d[1] = c;
    d.d[2] = 8;
    d.d[3] = 8;
    return d;
}

DynamicPluginTensorDesc tensor(int64_t c, int64_t maxBatch)
{
    DynamicPluginTensorDesc t{};
    t.desc.dims = dims4(-1, c);
    t.desc.type = DataType::kHALF;
    t.desc.format = TensorFormat::kLINEAR;
    t.min = dims4(1, c);
    t.opt = dims4(1, c);
    t.max = dims4(maxBatch, c);
    return t;
}

} // namespace

int main(int argc, char** argv)
{
    if (argc != 3)
    {
        std::fprintf(stderr, "usage: configure_harness <C> <maxBatch>\n");
        return 2;
    }
    static Finder finder;
    setLoggerFinder(&finder);
    int64_t const c = std::atoll(argv[1]);
    int64_t const maxBatch = std::atoll(argv[2]);
    int32_t nbCreators = 0;
    auto* creator = static_cast<IPluginCreatorV3One*>(getCreators(nbCreators)[0]);
    int32_t n = 2;
    int32_t k = 3;
    PluginField fields[] = {{"N", &n, PluginFieldType::kINT32, 1}, {"k", &k, PluginFieldType::kINT32, 1}};
    PluginFieldCollection collection{2, fields};
    IPluginV3* plugin = creator->createPlugin("iac", &collection, TensorRTPhase::kBUILD);
    if (plugin == nullptr)
    {
        std::printf("CREATE FAILED\n");
        return 1;
    }
    auto* build = static_cast<IPluginV3OneBuild*>(plugin->getCapabilityInterface(PluginCapabilityType::kBUILD));
    DynamicPluginTensorDesc in[] = {tensor(c, maxBatch), tensor(n * c * (2 * k + 1), maxBatch)};
    DynamicPluginTensorDesc out[] = {tensor(c, maxBatch)};
    std::printf("RC %d\n", build->configurePlugin(in, 2, out, 1));
    delete plugin;
    return 0;
}
