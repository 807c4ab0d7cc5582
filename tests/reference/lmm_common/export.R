# Shared by the lmm_* reference cases: fit each model with lme4 and write
# everything the Python tests compare against to lme4_output.json, and what R
# printed to lme4_summary.txt.
suppressPackageStartupMessages({
  library(lme4)
  library(lmerTest)
  library(jsonlite)
})

export_fit <- function(m, name, formula_py) {
  vc <- as.data.frame(VarCorr(m))
  re <- as.data.frame(ranef(m))
  sm <- summary(m)
  cf <- coef(sm)
  list(
    name = name,
    formula_r = deparse(formula(m), width.cutoff = 500L),
    formula_py = formula_py,
    reml = isREML(m),
    nobs = nobs(m),
    ngrps = as.list(ngrps(m)),
    fixef = as.list(fixef(m)),
    se = as.list(sqrt(diag(as.matrix(vcov(m))))),
    vcov = unname(as.matrix(vcov(m))),
    vcov_names = colnames(vcov(m)),
    theta = as.list(getME(m, "theta")),
    sigma = sigma(m),
    varcorr = vc,
    reml_criterion = if (isREML(m)) REMLcrit(m) else NULL,
    deviance = if (!isREML(m)) deviance(m) else NULL,
    loglik = as.numeric(logLik(m)),
    singular = isSingular(m),
    satterthwaite_df = as.list(setNames(cf[, "df"], rownames(cf))),
    ranef = re,
    optimizer = m@optinfo$optimizer,
    optimizer_messages = c(m@optinfo$conv$lme4$messages, m@optinfo$message)
  )
}

write_case <- function(fits, summaries) {
  out <- list(
    R_version = R.version.string,
    lme4_version = as.character(packageVersion("lme4")),
    lmerTest_version = as.character(packageVersion("lmerTest")),
    models = fits
  )
  writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE, null = "null"), "lme4_output.json")
  writeLines(unlist(summaries), "lme4_summary.txt")
}

fit_all <- function(specs, data) {
  fits <- list()
  summaries <- list()
  for (s in specs) {
    m <- lmer(as.formula(s$formula_r), data = data, REML = s$reml)
    fits[[length(fits) + 1]] <- export_fit(m, s$name, s$formula_py)
    summaries[[length(summaries) + 1]] <- c(paste("###", s$name), capture.output(print(summary(m))), "")
  }
  write_case(fits, summaries)
}

# ---------------------------------------------------------------------------
# Extended export for the cases on R's shipped datasets (added later; the
# functions above are unchanged, so the first five cases regenerate
# byte-identically). Every key export_fit writes is kept, with the same values;
# the extra keys are documented in README.md next to this file.

# Write `orig` to input.csv, read it back and give every factor the levels,
# level order and ordered-ness it had in `orig`, so the model is fitted to
# exactly what input.csv holds and still codes factors as R's dataset does.
roundtrip_csv <- function(orig, path = "input.csv") {
  orig <- as.data.frame(orig)
  attr(orig, "terms") <- NULL
  write.csv(orig, path, row.names = FALSE)
  data <- read.csv(path, stringsAsFactors = FALSE)
  for (v in names(orig)) {
    if (is.factor(orig[[v]])) {
      data[[v]] <- factor(as.character(data[[v]]), levels = levels(orig[[v]]), ordered = is.ordered(orig[[v]]))
    }
    stopifnot(isTRUE(all.equal(as.vector(data[[v]]), as.vector(orig[[v]]), tolerance = 0, check.attributes = FALSE)))
    if (is.factor(orig[[v]])) stopifnot(identical(levels(data[[v]]), levels(orig[[v]])))
  }
  data
}

# Column classes, levels and contrasts as the fit saw them (for README/tests).
describe_columns <- function(data) {
  lapply(data, function(x) {
    if (is.factor(x)) {
      list(type = if (is.ordered(x)) "ordered factor" else "factor",
           levels = I(levels(x)),
           contrasts = if (is.ordered(x)) options("contrasts")[[1]][["ordered"]] else options("contrasts")[[1]][["unordered"]])
    } else {
      list(type = class(x)[1])
    }
  })
}

# TRUE when at least two grouping factors are not nested in one another.
crossed_factors <- function(m) {
  fl <- getME(m, "flist")
  if (length(fl) < 2) return(FALSE)
  for (i in seq_along(fl)) for (j in seq_along(fl)) {
    if (i < j && !lme4::isNested(fl[[i]], fl[[j]]) && !lme4::isNested(fl[[j]], fl[[i]])) return(TRUE)
  }
  FALSE
}

# Fit, capturing every warning and message R raises (they are recorded, then
# muffled so the run log stays short; print(summary()) still reports them).
fit_capture <- function(formula, data, reml, control = NULL) {
  warns <- character(0)
  msgs <- character(0)
  args <- list(formula = formula, data = quote(data), REML = reml)
  if (!is.null(control)) args$control <- control
  m <- withCallingHandlers(
    eval(as.call(c(list(quote(lmer)), args))),
    warning = function(w) { warns <<- c(warns, conditionMessage(w)); invokeRestart("muffleWarning") },
    message = function(e) { msgs <<- c(msgs, sub("\n$", "", conditionMessage(e))); invokeRestart("muffleMessage") }
  )
  list(m = m, warnings = warns, messages = msgs)
}

# Largest relative change of each quantity between two fits.
max_rel <- function(a, b, floor = 0) {
  a <- unlist(a); b <- unlist(b)
  max(abs(a - b) / pmax(abs(a), floor))
}

# Largest change of the conditional modes, per grouping factor and term
# relative to max(their SD across levels, sigma * 1e-3) (the test's scale).
ranef_change <- function(m, tight) {
  a <- as.data.frame(ranef(m))
  b <- as.data.frame(ranef(tight))
  stopifnot(identical(lapply(a[, 1:3], as.character), lapply(b[, 1:3], as.character)))
  key <- paste(a$grpvar, a$term)
  max(sapply(split(seq_len(nrow(a)), key), function(i) {
    want <- a$condval[i]
    max(abs(want - b$condval[i])) / max(if (length(i) > 1) sd(want) * sqrt((length(i) - 1) / length(i)) else 0, sigma(m) * 1e-3)
  }))
}

export_fit_ext <- function(fc, name, formula_py, data, reml) {
  m <- fc$m
  base <- export_fit(m, name, formula_py)
  base$vcov_names <- I(colnames(vcov(m)))  # an array even with one fixed effect
  sm <- summary(m, ddf = "Satterthwaite")
  cf <- coef(sm)
  # Refit with much tighter optimizer tolerances: how far lme4's default stop
  # is from the optimum (flat optima show up here).
  tight <- fit_capture(formula(m), data, reml, control = lmerControl(
    optimizer = "nloptwrap",
    optCtrl = list(xtol_abs = 1e-12, ftol_abs = 1e-14, xtol_rel = 1e-14, ftol_rel = 1e-15, maxeval = 1e5)))$m
  tcf <- coef(summary(tight, ddf = "Satterthwaite"))
  crit <- function(x) if (isREML(x)) REMLcrit(x) else deviance(x)
  se <- sqrt(diag(as.matrix(vcov(m))))
  vc <- as.data.frame(VarCorr(m))
  tvc <- as.data.frame(VarCorr(tight))
  # the scales the Python test compares on: fixed effects relative to
  # max(|value|, SE); variance components (the vcov column of varcorr)
  # relative to max(|value|, sigma^2)
  s2 <- sigma(m)^2
  c(base, list(
    t_value = as.list(setNames(cf[, "t value"], rownames(cf))),
    p_value = as.list(setNames(cf[, "Pr(>|t|)"], rownames(cf))),
    df_method = "Satterthwaite",
    grouping_factors = I(names(getME(m, "flist"))),
    random_terms = lapply(getME(m, "cnms"), I),
    crossed = crossed_factors(m),
    columns = describe_columns(data[, all.vars(formula(m)), drop = FALSE]),
    converged = m@optinfo$conv$opt == 0 && length(m@optinfo$conv$lme4$code) == 0,
    fit_warnings = I(fc$warnings),
    fit_messages = I(fc$messages),
    tight_refit = list(
      optimizer = tight@optinfo$optimizer,
      optimizer_messages = I(c(tight@optinfo$conv$lme4$messages, tight@optinfo$message)),
      criterion = crit(tight),
      theta = as.list(getME(tight, "theta")),
      sigma = sigma(tight),
      fixef = as.list(fixef(tight)),
      se = as.list(sqrt(diag(as.matrix(vcov(tight))))),
      varcorr = tvc,
      satterthwaite_df = as.list(setNames(tcf[, "df"], rownames(tcf))),
      max_rel_change = list(
        criterion = abs(crit(m) - crit(tight)) / abs(crit(m)),
        fixef = max(abs(fixef(m) - fixef(tight)) / pmax(abs(fixef(m)), se)),
        se = max_rel(se, sqrt(diag(as.matrix(vcov(tight))))),
        var_components = max(abs(vc$vcov - tvc$vcov) / pmax(abs(vc$vcov), s2)),
        sigma2 = abs(sigma(m)^2 - sigma(tight)^2) / s2,
        vcov = max(abs(as.matrix(vcov(m)) - as.matrix(vcov(tight))) / sqrt(outer(se^2, se^2))),
        ranef = ranef_change(m, tight),
        satterthwaite_df = max_rel(cf[, "df"], tcf[, "df"])
      )
    )
  ))
}

# Like fit_all, but the printed summary names the real formula, and each fit
# carries the extra keys of export_fit_ext. `source` says where the data are
# from (e.g. "lme4::Dyestuff"); it is stored at the top of lme4_output.json.
fit_all_ext <- function(specs, data, source) {
  fits <- list()
  summaries <- list()
  for (s in specs) {
    fc <- fit_capture(as.formula(s$formula_r), data, s$reml)
    fits[[length(fits) + 1]] <- export_fit_ext(fc, s$name, s$formula_py, data, s$reml)
    summaries[[length(summaries) + 1]] <- c(paste("###", s$name), capture.output(print(summary(fc$m, ddf = "Satterthwaite"))), "")
  }
  out <- list(
    R_version = R.version.string,
    lme4_version = as.character(packageVersion("lme4")),
    lmerTest_version = as.character(packageVersion("lmerTest")),
    data_source = source,
    models = fits
  )
  writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE, null = "null"), "lme4_output.json")
  writeLines(unlist(summaries), "lme4_summary.txt")
}
