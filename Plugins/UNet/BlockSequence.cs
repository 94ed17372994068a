using static TorchSharp.torch;

namespace EDiffI.Plugins.UNet;

/// <summary>
/// Named blocks run in order; each is registered under its name, so state-dict keys read
/// "enc.32x32_block0.conv0.weight" as in EDM's DhariwalUNet. (TorchSharp's ModuleDict cannot be moved
/// between devices or dtypes in 0.107: its two indexers trip Module.to.)
/// </summary>
internal sealed class BlockSequence : nn.Module
{
    private readonly List<UNetBlock> _blocks = [];

    public BlockSequence(string name) : base(name) { }

    public void Add(string name, UNetBlock block)
    {
        register_module(name, block);
        _blocks.Add(block);
    }

    public IReadOnlyList<UNetBlock> Blocks => _blocks;
}
