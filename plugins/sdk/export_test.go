package sdk

// EnvNoParentWatch gives the SDK's external tests the name of the test-only
// switch that turns Serve's parent watch off.
const EnvNoParentWatch = envNoParentWatch
