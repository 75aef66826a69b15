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
--
-- A verdict's age: `truthgate verify` and `truthgate audit` write status.lastVerifiedEpoch (Unix
-- seconds: text times cannot be parsed without a string library) and, for an audited
-- TruthCheck, status.staleAfterSeconds (two auditor heartbeats). The message ends with the age,
-- rounded down to coarse steps so it changes rarely between Argo CD refreshes. Past
-- staleAfterSeconds the auditor has stopped or keeps failing, and the message says so; the
-- health stays what the verdict says (a Degraded verdict stays Degraded, a Healthy one Healthy):
-- an old verdict is the last thing known, and Unknown would rank above a really Degraded
-- workload in the app's health. Only a stale Progressing verdict steps aside as Healthy, since
-- Progressing would hold every later sync's health wait on a rollout nobody is watching. Without
-- os.time (another sandbox) or without the fields (older truthgate), the message is as before.
local hs = {}

-- The object passed the CRD's schema, but a field of the wrong type must still never make the
-- script fail (Argo CD would then show an error instead of a health): read through these.
local function table_or_nil(value)
  if type(value) == "table" then
    return value
  end
  return nil
end
local function number_or_nil(value)
  if type(value) == "number" and value == value then  -- not NaN
    return value
  end
  return nil
end
-- An empty string says nothing: the message then falls back as if the field were absent.
local function text_or_nil(value)
  if type(value) == "string" and value ~= "" then
    return value
  end
  return nil
end

local status = table_or_nil(obj.status)
local spec = table_or_nil(obj.spec) or {}
local generation = number_or_nil((table_or_nil(obj.metadata) or {}).generation)

local function result(state, message)
  hs.status = state
  hs.message = message
  return hs
end

if status == nil then
  return result("Healthy", "Awaiting verification by truthgate")
end

local summary = text_or_nil(status.summary)
if status.phase == "Pending" then
  return result("Healthy", summary or "Awaiting verification by truthgate")
end

local observed = number_or_nil(status.observedGeneration)
if generation ~= nil and observed ~= nil and observed < generation then
  return result("Healthy", "Awaiting verification of generation " .. tostring(generation) .. " (the TruthCheck changed)")
end

if status.phase == "Verifying" then
  return result("Progressing", summary or "Verifying")
end

local verdict = status.verdict
if verdict == nil then
  return result("Healthy", "Awaiting verification by truthgate")
end
if type(verdict) ~= "string" then
  verdict = "of type " .. type(verdict)
end
local message = summary or verdict

-- Seconds since the verdict was last verified, or nil when that cannot be told: no os.time,
-- no or a nonsensical status.lastVerifiedEpoch, or one far ahead of this clock.
local function verdict_age()
  local epoch = number_or_nil(status.lastVerifiedEpoch)
  if epoch == nil or epoch <= 0 then
    return nil
  end
  if type(os) ~= "table" or type(os.time) ~= "function" then
    return nil
  end
  local ok, now = pcall(os.time)
  if not ok or number_or_nil(now) == nil then
    return nil
  end
  local age = number_or_nil(now - epoch)
  if age == nil or age < -300 then
    return nil
  end
  if age < 0 then
    return 0  -- clocks a little apart
  end
  return age
end

local function whole(x)
  return x - x % 1
end

-- Coarse steps, rounded down: the message changes a few times an hour at most.
local MINUTE_STEPS = {45, 30, 15, 10, 5}
local function age_text(age)
  if age >= 86400 then
    return tostring(whole(age / 86400)) .. "d"
  end
  if age >= 3600 then
    return tostring(whole(age / 3600)) .. "h"
  end
  for _, minutes in ipairs(MINUTE_STEPS) do
    if age >= minutes * 60 then
      return tostring(minutes) .. "m"
    end
  end
  return "<5m"
end

local age = verdict_age()
local stale = false
if age ~= nil then
  local audited = (table_or_nil(spec.audit) or {}).enabled ~= false
  local bound = number_or_nil(status.staleAfterSeconds)
  stale = audited and bound ~= nil and bound > 0 and age > bound
end

-- The age note at the end of every verdict's message.
local function aged(text)
  if age == nil then
    return text
  end
  if stale then
    return text .. " (verdict is " .. age_text(age) .. " old: the truthgate auditor may have stopped or be failing)"
  end
  local by = ""
  if status.verifiedBy == "audit" or status.verifiedBy == "sync" then
    by = " by " .. status.verifiedBy
  end
  return text .. " (verified " .. age_text(age) .. " ago" .. by .. ")"
end

if verdict == "Healthy" then
  return result("Healthy", aged(message))
end

if verdict == "Progressing" then
  if stale then
    return result("Healthy", aged("Not judged by truthgate (verdict Progressing): " .. message))
  end
  return result("Progressing", aged(message))
end

if verdict == "Degraded" then
  if spec.onDivergence == "fail-sync" then
    -- The user chose to fail the sync instead of degrading the application.
    return result("Healthy", aged("Divergence reported by failing the sync (onDivergence: fail-sync): " .. message))
  end
  return result("Degraded", aged(message))
end

-- truthgate could not judge (API, RBAC, a stopped run...). Argo CD ranks Unknown above Degraded
-- when it sums an application's health, so Unknown here would hide a really Degraded workload:
-- truthgate steps aside as Healthy and the message says why it did not judge.
if verdict == "Unknown" then
  if summary == nil then
    return result("Healthy", aged("Not judged by truthgate (verdict Unknown)"))
  end
  return result("Healthy", aged("Not judged by truthgate (verdict Unknown): " .. summary))
end

return result("Healthy", aged("Not judged by truthgate: unrecognised verdict " .. verdict .. " in status.verdict"))
