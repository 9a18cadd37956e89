-- Argo CD health check for every herder.dev kind. Install: docs/gitops.md ("Argo CD").
--
-- herder's status follows the kstatus conventions: status.observedGeneration on every status write,
-- Reconciling=True while herder works toward the spec, Stalled=True when it cannot progress without a person,
-- and Ready summarising the result. This maps them as kstatus does (InProgress = Progressing, Failed = Degraded,
-- Current = Healthy), plus herder.dev/paused = Suspended. Argo CD reports an object being deleted as
-- Progressing before it runs this script, and gives it only Lua's base, table and package libraries.

-- The herder.dev/paused values herder treats as set (it also accepts other capitalisations, which Lua
-- cannot fold without the string library).
local PAUSED = {[""] = true, ["1"] = true, ["true"] = true, ["True"] = true, ["TRUE"] = true,
                ["yes"] = true, ["Yes"] = true, ["YES"] = true}

local function condition(status, wanted)
  for _, c in ipairs(status.conditions or {}) do
    if c.type == wanted then
      return c
    end
  end
  return nil
end

local function is_true(c)
  return c ~= nil and c.status == "True"
end

local function explain(c, default)
  if c ~= nil and c.message ~= nil and c.message ~= "" then
    return c.message
  end
  if c ~= nil and c.reason ~= nil and c.reason ~= "" then
    return c.reason
  end
  return default
end

local annotations = obj.metadata.annotations or {}
local paused = annotations["herder.dev/paused"]
if paused ~= nil and PAUSED[paused] then
  return {status = "Suspended", message = "herder.dev/paused is set: herder makes no backend changes"}
end

local status = obj.status
if status == nil or status.observedGeneration == nil then
  return {status = "Progressing", message = "Waiting for herder's first status"}
end
if status.observedGeneration ~= obj.metadata.generation then
  return {status = "Progressing",
          message = "herder has not observed generation " .. tostring(obj.metadata.generation) .. " yet"}
end

local stalled = condition(status, "Stalled")
if is_true(stalled) then
  return {status = "Degraded", message = explain(stalled, "Stalled")}
end
local reconciling = condition(status, "Reconciling")
if is_true(reconciling) then
  return {status = "Progressing", message = explain(reconciling, "Reconciling")}
end
local ready = condition(status, "Ready")
if is_true(ready) then
  return {status = "Healthy", message = explain(ready, "Ready")}
end
return {status = "Progressing", message = explain(ready, "Waiting for the Ready condition")}
