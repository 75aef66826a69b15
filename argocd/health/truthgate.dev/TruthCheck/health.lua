-- Health of a truthgate TruthCheck: the verdict `truthgate verify` published, as Argo CD health.
--
-- Runs in Argo CD's health-script sandbox (gopher-lua, Lua 5.1): only the base, table and
-- package libraries and os.time/os.date exist. No string or math library, so only plain `..`
-- concatenation, tostring and comparisons below.
--
-- Why "awaiting" states are Healthy and not Progressing: during a sync Argo CD waits for every
-- resource of the sync to turn Healthy (and fails the sync on Degraded) before it runs PostSync
-- hooks. `truthgate verify` IS a PostSync hook, so a TruthCheck that stayed Progressing until
-- verified would stall the very hook that verifies it. The PreSync hook marks the TruthCheck
-- Pending for the same reason: the previous sync's Degraded verdict must not fail the sync that
-- fixes it. Progressing is shown only while the PostSync run observes (phase Verifying), when
-- the sync's health wait is already over.
local hs = {}
local status = obj.status
local spec = obj.spec or {}
local generation = nil
if obj.metadata ~= nil then
  generation = obj.metadata.generation
end

local function result(state, message)
  hs.status = state
  hs.message = message
  return hs
end

if status == nil then
  return result("Healthy", "Awaiting verification by truthgate")
end

local summary = status.summary
if status.phase == "Pending" then
  return result("Healthy", summary or "Awaiting verification by truthgate")
end

if generation ~= nil and status.observedGeneration ~= nil and status.observedGeneration < generation then
  return result("Healthy", "Awaiting verification of generation " .. tostring(generation) .. " (the TruthCheck changed)")
end

if status.phase == "Verifying" then
  return result("Progressing", summary or "Verifying")
end

local verdict = status.verdict
if verdict == nil then
  return result("Healthy", "Awaiting verification by truthgate")
end
local message = summary or verdict

if verdict == "Healthy" or verdict == "Progressing" then
  return result(verdict, message)
end

if verdict == "Degraded" then
  if spec.onDivergence == "fail-sync" then
    -- The user chose to fail the sync instead of degrading the application.
    return result("Healthy", "Divergence reported by failing the sync (onDivergence: fail-sync): " .. message)
  end
  return result("Degraded", message)
end

-- truthgate could not judge (API, RBAC, a stopped run...). Argo CD ranks Unknown above Degraded
-- when it sums an application's health, so Unknown here would hide a really Degraded workload:
-- truthgate steps aside as Healthy and the message says why it did not judge.
if verdict == "Unknown" then
  return result("Healthy", "Not judged by truthgate (verdict Unknown): " .. message)
end

return result("Healthy", "Not judged by truthgate: unrecognised verdict " .. tostring(verdict) .. " in status.verdict")
