"""Admission: the AdmissionReview model, its truthgate context, and the pure decision."""
