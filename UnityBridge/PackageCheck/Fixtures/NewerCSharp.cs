// A FIXTURE THAT MUST NOT COMPILE: a file-scoped namespace is C# 10, and Unity 2021.3 compiles C# 9
// (CS8773 under -langversion:9). The package check must refuse it as Unity would.
namespace EDiffI.Bridge.Unity.Editor.Fixtures;

internal static class NewerCSharp
{
    internal static int Answer => 42;
}
