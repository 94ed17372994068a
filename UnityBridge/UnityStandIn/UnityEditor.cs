// STAND-IN, NOT UNITY: declarations only (see UnityStandIn.csproj and the header of UnityEngine.cs).
// Follows Unity-Technologies/UnityCsReference at tag 2021.3.58f1: the members the package calls,
// each with its whole overload set. No body does anything.
#nullable disable
using System;
using UnityEngine;
using Object = UnityEngine.Object;

namespace UnityEditor
{
    public partial class EditorWindow : ScriptableObject
    {
        public static EditorWindow GetWindow(Type t, bool utility, string title, bool focus) => throw StandIn.Fail();
        public static EditorWindow GetWindow(Type t, bool utility, string title) => throw StandIn.Fail();
        public static EditorWindow GetWindow(Type t, bool utility) => throw StandIn.Fail();
        public static EditorWindow GetWindow(Type t) => throw StandIn.Fail();
        public static T GetWindow<T>() where T : EditorWindow => throw StandIn.Fail();
        public static T GetWindow<T>(bool utility) where T : EditorWindow => throw StandIn.Fail();
        public static T GetWindow<T>(bool utility, string title) where T : EditorWindow => throw StandIn.Fail();
        public static T GetWindow<T>(string title) where T : EditorWindow => throw StandIn.Fail();
        public static T GetWindow<T>(string title, bool focus) where T : EditorWindow => throw StandIn.Fail();
        public static T GetWindow<T>(bool utility, string title, bool focus) where T : EditorWindow => throw StandIn.Fail();
        public static T GetWindow<T>(params Type[] desiredDockNextTo) where T : EditorWindow => throw StandIn.Fail();
        public static T GetWindow<T>(string title, params Type[] desiredDockNextTo) where T : EditorWindow => throw StandIn.Fail();
        public static T GetWindow<T>(string title, bool focus, params Type[] desiredDockNextTo) where T : EditorWindow => throw StandIn.Fail();
        public void Repaint() => throw StandIn.Fail();
    }

    [AttributeUsage(AttributeTargets.Method, AllowMultiple = true)]
    public sealed class MenuItem : Attribute
    {
        public MenuItem(string itemName) => throw StandIn.Fail();
        public MenuItem(string itemName, bool isValidateFunction) => throw StandIn.Fail();
        public MenuItem(string itemName, bool isValidateFunction, int priority) => throw StandIn.Fail();
    }

    [AttributeUsage(AttributeTargets.Class)]
    public class InitializeOnLoadAttribute : Attribute { }

    public sealed partial class EditorApplication
    {
        public delegate void CallbackFunction();
        public static CallbackFunction update;
        public static CallbackFunction delayCall;
        public static event Action quitting { add => throw StandIn.Fail(); remove => throw StandIn.Fail(); }
    }

    public enum MessageType { None = 0, Info = 1, Warning = 2, Error = 3 }

    public partial class EditorGUILayout
    {
        public static void LabelField(string label, params GUILayoutOption[] options) => throw StandIn.Fail();
        public static void LabelField(string label, GUIStyle style, params GUILayoutOption[] options) => throw StandIn.Fail();
        public static void LabelField(GUIContent label, params GUILayoutOption[] options) => throw StandIn.Fail();
        public static void LabelField(GUIContent label, GUIStyle style, params GUILayoutOption[] options) => throw StandIn.Fail();
        public static void LabelField(string label, string label2, params GUILayoutOption[] options) => throw StandIn.Fail();
        public static void LabelField(string label, string label2, GUIStyle style, params GUILayoutOption[] options) => throw StandIn.Fail();
        public static void LabelField(GUIContent label, GUIContent label2, params GUILayoutOption[] options) => throw StandIn.Fail();
        public static void LabelField(GUIContent label, GUIContent label2, GUIStyle style, params GUILayoutOption[] options) => throw StandIn.Fail();

        public static bool Toggle(bool value, params GUILayoutOption[] options) => throw StandIn.Fail();
        public static bool Toggle(string label, bool value, params GUILayoutOption[] options) => throw StandIn.Fail();
        public static bool Toggle(GUIContent label, bool value, params GUILayoutOption[] options) => throw StandIn.Fail();
        public static bool Toggle(bool value, GUIStyle style, params GUILayoutOption[] options) => throw StandIn.Fail();
        public static bool Toggle(string label, bool value, GUIStyle style, params GUILayoutOption[] options) => throw StandIn.Fail();
        public static bool Toggle(GUIContent label, bool value, GUIStyle style, params GUILayoutOption[] options) => throw StandIn.Fail();

        public static string TextField(string text, params GUILayoutOption[] options) => throw StandIn.Fail();
        public static string TextField(string text, GUIStyle style, params GUILayoutOption[] options) => throw StandIn.Fail();
        public static string TextField(string label, string text, params GUILayoutOption[] options) => throw StandIn.Fail();
        public static string TextField(string label, string text, GUIStyle style, params GUILayoutOption[] options) => throw StandIn.Fail();
        public static string TextField(GUIContent label, string text, params GUILayoutOption[] options) => throw StandIn.Fail();
        public static string TextField(GUIContent label, string text, GUIStyle style, params GUILayoutOption[] options) => throw StandIn.Fail();

        public static string TextArea(string text, params GUILayoutOption[] options) => throw StandIn.Fail();
        public static string TextArea(string text, GUIStyle style, params GUILayoutOption[] options) => throw StandIn.Fail();

        public static float FloatField(float value, params GUILayoutOption[] options) => throw StandIn.Fail();
        public static float FloatField(float value, GUIStyle style, params GUILayoutOption[] options) => throw StandIn.Fail();
        public static float FloatField(string label, float value, params GUILayoutOption[] options) => throw StandIn.Fail();
        public static float FloatField(string label, float value, GUIStyle style, params GUILayoutOption[] options) => throw StandIn.Fail();
        public static float FloatField(GUIContent label, float value, params GUILayoutOption[] options) => throw StandIn.Fail();
        public static float FloatField(GUIContent label, float value, GUIStyle style, params GUILayoutOption[] options) => throw StandIn.Fail();

        public static int IntField(int value, params GUILayoutOption[] options) => throw StandIn.Fail();
        public static int IntField(int value, GUIStyle style, params GUILayoutOption[] options) => throw StandIn.Fail();
        public static int IntField(string label, int value, params GUILayoutOption[] options) => throw StandIn.Fail();
        public static int IntField(string label, int value, GUIStyle style, params GUILayoutOption[] options) => throw StandIn.Fail();
        public static int IntField(GUIContent label, int value, params GUILayoutOption[] options) => throw StandIn.Fail();
        public static int IntField(GUIContent label, int value, GUIStyle style, params GUILayoutOption[] options) => throw StandIn.Fail();

        public static int Popup(int selectedIndex, string[] displayedOptions, params GUILayoutOption[] options) => throw StandIn.Fail();
        public static int Popup(int selectedIndex, string[] displayedOptions, GUIStyle style, params GUILayoutOption[] options) => throw StandIn.Fail();
        public static int Popup(int selectedIndex, GUIContent[] displayedOptions, params GUILayoutOption[] options) => throw StandIn.Fail();
        public static int Popup(int selectedIndex, GUIContent[] displayedOptions, GUIStyle style, params GUILayoutOption[] options) => throw StandIn.Fail();
        public static int Popup(string label, int selectedIndex, string[] displayedOptions, params GUILayoutOption[] options) => throw StandIn.Fail();
        public static int Popup(GUIContent label, int selectedIndex, string[] displayedOptions, params GUILayoutOption[] options) => throw StandIn.Fail();
        public static int Popup(string label, int selectedIndex, string[] displayedOptions, GUIStyle style, params GUILayoutOption[] options) => throw StandIn.Fail();
        public static int Popup(GUIContent label, int selectedIndex, GUIContent[] displayedOptions, params GUILayoutOption[] options) => throw StandIn.Fail();
        public static int Popup(GUIContent label, int selectedIndex, GUIContent[] displayedOptions, GUIStyle style, params GUILayoutOption[] options) => throw StandIn.Fail();

        public static Object ObjectField(Object obj, Type objType, params GUILayoutOption[] options) => throw StandIn.Fail();
        public static Object ObjectField(Object obj, Type objType, Object targetBeingEdited, params GUILayoutOption[] options) => throw StandIn.Fail();
        public static Object ObjectField(Object obj, Type objType, bool allowSceneObjects, params GUILayoutOption[] options) => throw StandIn.Fail();
        public static Object ObjectField(string label, Object obj, Type objType, params GUILayoutOption[] options) => throw StandIn.Fail();
        public static Object ObjectField(string label, Object obj, Type objType, Object targetBeingEdited, params GUILayoutOption[] options) => throw StandIn.Fail();
        public static Object ObjectField(string label, Object obj, Type objType, bool allowSceneObjects, params GUILayoutOption[] options) => throw StandIn.Fail();
        public static Object ObjectField(GUIContent label, Object obj, Type objType, params GUILayoutOption[] options) => throw StandIn.Fail();
        public static Object ObjectField(GUIContent label, Object obj, Type objType, Object targetBeingEdited, params GUILayoutOption[] options) => throw StandIn.Fail();
        public static Object ObjectField(GUIContent label, Object obj, Type objType, bool allowSceneObjects, params GUILayoutOption[] options) => throw StandIn.Fail();
        public static void ObjectField(SerializedProperty property, params GUILayoutOption[] options) => throw StandIn.Fail();
        public static void ObjectField(SerializedProperty property, GUIContent label, params GUILayoutOption[] options) => throw StandIn.Fail();
        public static void ObjectField(SerializedProperty property, Type objType, params GUILayoutOption[] options) => throw StandIn.Fail();
        public static void ObjectField(SerializedProperty property, Type objType, GUIContent label, params GUILayoutOption[] options) => throw StandIn.Fail();

        public static Color ColorField(Color value, params GUILayoutOption[] options) => throw StandIn.Fail();
        public static Color ColorField(string label, Color value, params GUILayoutOption[] options) => throw StandIn.Fail();
        public static Color ColorField(GUIContent label, Color value, params GUILayoutOption[] options) => throw StandIn.Fail();
        public static Color ColorField(GUIContent label, Color value, bool showEyedropper, bool showAlpha, bool hdr, ColorPickerHDRConfig hdrConfig, params GUILayoutOption[] options) => throw StandIn.Fail();
        public static Color ColorField(GUIContent label, Color value, bool showEyedropper, bool showAlpha, bool hdr, params GUILayoutOption[] options) => throw StandIn.Fail();

        public static void HelpBox(string message, MessageType type) => throw StandIn.Fail();
        public static void HelpBox(string message, MessageType type, bool wide) => throw StandIn.Fail();
        public static void HelpBox(GUIContent content, bool wide = true) => throw StandIn.Fail();
    }

    public partial class EditorGUILayout
    {
        public static float Slider(float value, float leftValue, float rightValue, params GUILayoutOption[] options) => throw StandIn.Fail();
        public static float Slider(string label, float value, float leftValue, float rightValue, params GUILayoutOption[] options) => throw StandIn.Fail();
        public static float Slider(GUIContent label, float value, float leftValue, float rightValue, params GUILayoutOption[] options) => throw StandIn.Fail();

        public static Vector2 BeginScrollView(Vector2 scrollPosition, params GUILayoutOption[] options) => throw StandIn.Fail();
        public static Vector2 BeginScrollView(Vector2 scrollPosition, bool alwaysShowHorizontal, bool alwaysShowVertical, params GUILayoutOption[] options) => throw StandIn.Fail();
        public static Vector2 BeginScrollView(Vector2 scrollPosition, GUIStyle horizontalScrollbar, GUIStyle verticalScrollbar, params GUILayoutOption[] options) => throw StandIn.Fail();
        public static Vector2 BeginScrollView(Vector2 scrollPosition, GUIStyle style, params GUILayoutOption[] options) => throw StandIn.Fail();
        public static Vector2 BeginScrollView(Vector2 scrollPosition, bool alwaysShowHorizontal, bool alwaysShowVertical, GUIStyle horizontalScrollbar, GUIStyle verticalScrollbar, GUIStyle background, params GUILayoutOption[] options) => throw StandIn.Fail();
        public static void EndScrollView() => throw StandIn.Fail();
    }

    public partial class EditorGUI
    {
        public static void ProgressBar(Rect position, float value, string text) => throw StandIn.Fail();
    }

    public sealed class EditorPrefs
    {
        public static void SetString(string key, string value) => throw StandIn.Fail();
        public static string GetString(string key, string defaultValue) => throw StandIn.Fail();
        public static string GetString(string key) => throw StandIn.Fail();
        public static void SetBool(string key, bool value) => throw StandIn.Fail();
        public static bool GetBool(string key, bool defaultValue) => throw StandIn.Fail();
        public static bool GetBool(string key) => throw StandIn.Fail();
    }

    public class SessionState
    {
        public static void SetString(string key, string value) => throw StandIn.Fail();
        public static string GetString(string key, string defaultValue) => throw StandIn.Fail();
    }

    [Flags]
    public enum ImportAssetOptions
    {
        Default = 0,
        ForceUpdate = 1 << 0,
        ForceSynchronousImport = 1 << 3,
        ImportRecursive = 1 << 8,
        DontDownloadFromCacheServer = 1 << 13,
        ForceUncompressedImport = 1 << 14,
    }

    public sealed partial class AssetDatabase
    {
        public static void ImportAsset(string path) => throw StandIn.Fail();
        public static void ImportAsset(string path, ImportAssetOptions options) => throw StandIn.Fail();
        public static string GenerateUniqueAssetPath(string path) => throw StandIn.Fail();
        public static string CreateFolder(string parentFolder, string newFolderName) => throw StandIn.Fail();
        public static bool IsValidFolder(string path) => throw StandIn.Fail();
        public static void StartAssetEditing() => throw StandIn.Fail();
        public static void StopAssetEditing() => throw StandIn.Fail();
        public static bool MoveAssetToTrash(string path) => throw StandIn.Fail();
        public static void CreateAsset(Object asset, string path) => throw StandIn.Fail();
        public static string GetAssetPath(Object assetObject) => throw StandIn.Fail();
        public static string GetAssetPath(int instanceID) => throw StandIn.Fail();
        public static Object LoadAssetAtPath(string assetPath, Type type) => throw StandIn.Fail();
        public static T LoadAssetAtPath<T>(string assetPath) where T : Object => throw StandIn.Fail();
    }

    public partial class AssetImporter : Object
    {
        public static AssetImporter GetAtPath(string path) => throw StandIn.Fail();
        public void SaveAndReimport() => throw StandIn.Fail();
        public string userData { get => throw StandIn.Fail(); set => throw StandIn.Fail(); }
    }

    public partial class AssetPostprocessor
    {
        public string assetPath { get => throw StandIn.Fail(); set => throw StandIn.Fail(); }
        public AssetImporter assetImporter => throw StandIn.Fail();
        public virtual uint GetVersion() => throw StandIn.Fail();
    }

    public static partial class Progress
    {
        public enum Status { Running, Succeeded, Failed, Canceled, Paused }

        [Flags]
        public enum Options { None = 0 << 0, Sticky = 1 << 0, Indefinite = 1 << 1, Synchronous = 1 << 2, Managed = 1 << 3, Unmanaged = 1 << 4 }

        public static int Start(string name, string description = null, Options options = Options.None, int parentId = -1) => throw StandIn.Fail();
        public static void Finish(int id, Status status = Status.Succeeded) => throw StandIn.Fail();
        public static void Report(int id, float progress) => throw StandIn.Fail();
        public static void Report(int id, int currentStep, int totalSteps) => throw StandIn.Fail();
        public static void Report(int id, float progress, string description) => throw StandIn.Fail();
        public static void Report(int id, int currentStep, int totalSteps, string description) => throw StandIn.Fail();
        public static void RegisterCancelCallback(int id, Func<bool> callback) => throw StandIn.Fail();
        public static bool Exists(int id) => throw StandIn.Fail();
        public static Status GetStatus(int id) => throw StandIn.Fail();
    }

    public partial class Undo
    {
        public static void RegisterCreatedObjectUndo(Object objectToUndo, string name) => throw StandIn.Fail();
        public static void RecordObject(Object objectToUndo, string name) => throw StandIn.Fail();
        public static void IncrementCurrentGroup() => throw StandIn.Fail();
        public static int GetCurrentGroup() => throw StandIn.Fail();
        public static void SetCurrentGroupName(string name) => throw StandIn.Fail();
        public static void CollapseUndoOperations(int groupIndex) => throw StandIn.Fail();
    }

    public sealed partial class Selection
    {
        public static GameObject[] gameObjects => throw StandIn.Fail();
    }

    // The members the package names, with their values; the rest of the enum is left out.
    public enum TextureImporterType { Default = 0, NormalMap = 1, GUI = 2, Sprite = 8 }

    public sealed partial class TextureImporter : AssetImporter
    {
        public TextureImporterType textureType { get => throw StandIn.Fail(); set => throw StandIn.Fail(); }
        public bool sRGBTexture { get => throw StandIn.Fail(); set => throw StandIn.Fail(); }
        public bool mipmapEnabled { get => throw StandIn.Fail(); set => throw StandIn.Fail(); }
        public TextureWrapMode wrapMode { get => throw StandIn.Fail(); set => throw StandIn.Fail(); }
        public TextureWrapMode wrapModeU { get => throw StandIn.Fail(); set => throw StandIn.Fail(); }
        public TextureWrapMode wrapModeV { get => throw StandIn.Fail(); set => throw StandIn.Fail(); }
    }
}
